package prepare

import (
	"context"
	"fmt"
	"strings"

	"github.com/toposuite/toposuite/internal/exec"
)

// commands runs prepare's own programs (btrfs, mkfs.btrfs, findmnt, mount,
// mkdir) through the one runner, so that a command prefix such as nsenter
// reaches the host for each of them, as for lsblk and wipefs.
type commands struct {
	run exec.Runner
}

// LabelPrefix starts the label of every filesystem prepare makes; the rest
// is the pool's name.
const LabelPrefix = "topols-"

// Label returns the label prepare gives the filesystem of pool.
func Label(pool string) string { return LabelPrefix + pool }

// mkfs makes a btrfs filesystem on devs. It never passes -f: mkfs.btrfs
// then refuses any device that still carries a signature, so a device
// that changed since it was inspected is not overwritten; devices that
// were listed under wipe have been wiped before.
func (c commands) mkfs(ctx context.Context, label, dataProfile, metadataProfile string, devs []string) error {
	args := []string{"-L", label}
	if dataProfile != "" {
		args = append(args, "-d", dataProfile)
	}
	if metadataProfile != "" {
		args = append(args, "-m", metadataProfile)
	}
	if _, err := c.run.Run(ctx, "mkfs.btrfs", append(args, devs...)...); err != nil {
		return fmt.Errorf("make the btrfs filesystem: %w", err)
	}
	return nil
}

// mkdirAll creates the mount point where the commands run.
func (c commands) mkdirAll(ctx context.Context, path string) error {
	if _, err := c.run.Run(ctx, "mkdir", "-p", path); err != nil {
		return fmt.Errorf("create the mount point: %w", err)
	}
	return nil
}

// mount mounts the btrfs filesystem on devs at path. Every device but the
// first is named with a device= option: the kernel knows a multi-device
// filesystem's devices only once they are scanned, which nothing does
// without udev or after the loop devices of a test were attached again.
func (c commands) mount(ctx context.Context, devs []string, path string, options []string) error {
	opts := append([]string(nil), options...)
	for _, d := range devs[1:] {
		opts = append(opts, "device="+d)
	}
	args := []string{"-t", "btrfs"}
	if len(opts) > 0 {
		args = append(args, "-o", strings.Join(opts, ","))
	}
	if _, err := c.run.Run(ctx, "mount", append(args, devs[0], path)...); err != nil {
		return fmt.Errorf("mount the btrfs filesystem at %s: %w", path, err)
	}
	return nil
}
