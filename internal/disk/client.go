// Package disk inspects the node's block devices: what they are (lsblk),
// what they hold (signatures, read by wipefs), whether LVM uses them, and
// from that whether a device is free to become a physical volume and, if
// not, why. Decide holds the refusal rules that `lvmd prepare` and `btrfsd
// prepare` share for the devices their configurations declare. It also
// runs the few commands that change devices for them: wiping signatures
// and attaching loop files.
//
// Signatures come from `wipefs --no-act --json`, not from lsblk's FSTYPE
// and PTTYPE, because lsblk takes those from the udev database, which is
// empty on hosts and containers without udev; and not from `blkid -p`,
// whose exit code 2 means both "no signature" and "could not open the
// device" (seen: EPERM on a disk the container may not read), where wipefs
// exits 0 with an empty list or 1 with an error.
//
// Every command runs through internal/exec, so a command prefix (nsenter
// into the host's namespaces) applies to all of them.
package disk

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/toposuite/toposuite/internal/exec"
	"github.com/toposuite/toposuite/internal/storage"
)

// Client runs the block device commands.
type Client struct {
	run exec.Runner
}

// New returns a client running commands through r.
func New(r exec.Runner) *Client { return &Client{run: r} }

// List returns every block device of the node, parents before children,
// RAM disks and empty devices included (lsblk --all) so that they can be
// reported as excluded rather than silently missing.
func (c *Client) List(ctx context.Context) ([]Device, error) {
	return c.lsblk(ctx, "--all")
}

// Get returns the device at path (a symlink is resolved by lsblk to the
// device's own name) with its children. The error wraps
// storage.ErrNotFound when path is not a block device.
func (c *Client) Get(ctx context.Context, path string) (Device, error) {
	devs, err := c.lsblk(ctx, path)
	if err != nil {
		return Device{}, err
	}
	if len(devs) == 0 {
		return Device{}, storage.Errorf(storage.ErrNotFound, "%s: not a block device", path)
	}
	return devs[0], nil
}

func (c *Client) lsblk(ctx context.Context, args ...string) ([]Device, error) {
	res, err := c.run.Run(ctx, "lsblk", append([]string{"--json", "--bytes", "--paths", "--output", lsblkColumns}, args...)...)
	if err != nil && strings.Contains(stderrOf(err), "unknown column") {
		// util-linux before 2.37 has MOUNTPOINT only.
		res, err = c.run.Run(ctx, "lsblk", append([]string{"--json", "--bytes", "--paths", "--output", lsblkColumnsLegacy}, args...)...)
	}
	if err != nil {
		if msg := stderrOf(err); strings.Contains(msg, "not a block device") || strings.Contains(msg, "No such file or directory") {
			return nil, storage.Errorf(storage.ErrNotFound, "%s", strings.TrimSpace(strings.TrimPrefix(msg, "lsblk: ")))
		}
		return nil, fmt.Errorf("list block devices: %w", err)
	}
	return ParseLsblk(res.Stdout)
}

// Signatures returns the signatures on the device, read without changing it.
func (c *Client) Signatures(ctx context.Context, path string) ([]Signature, error) {
	res, err := c.run.Run(ctx, "wipefs", "--no-act", "--json", "--output", wipefsColumns, path)
	if err != nil {
		return nil, fmt.Errorf("read signatures of %s: %w", path, err)
	}
	return ParseWipefs(res.Stdout)
}

// Wipe erases every signature on the device. It never forces: wipefs
// refuses a device that is in use (mounted, held, open exclusively).
func (c *Client) Wipe(ctx context.Context, path string) error {
	if _, err := c.run.Run(ctx, "wipefs", "--all", path); err != nil {
		return fmt.Errorf("wipe %s: %w", path, err)
	}
	return nil
}

// LoopsBackedBy returns the loop devices attached to file. losetup matches
// by device and inode, so another path to the same file finds them too.
func (c *Client) LoopsBackedBy(ctx context.Context, file string) ([]Loop, error) {
	res, err := c.run.Run(ctx, "losetup", "--list", "--json", "--output", losetupColumns, "--associated", file)
	if err != nil {
		return nil, fmt.Errorf("list loop devices of %s: %w", file, err)
	}
	return ParseLosetup(res.Stdout)
}

// AttachLoop attaches file to the first free loop device and returns it.
func (c *Client) AttachLoop(ctx context.Context, file string) (string, error) {
	res, err := c.run.Run(ctx, "losetup", "--find", "--show", file)
	if err != nil {
		return "", fmt.Errorf("attach %s to a loop device: %w", file, err)
	}
	dev := strings.TrimSpace(string(res.Stdout))
	if !strings.HasPrefix(dev, "/dev/") {
		return "", fmt.Errorf("attach %s: losetup printed %q, not a device", file, dev)
	}
	return dev, nil
}

// EnsureFile creates file (and its directory) as a sparse file of size
// bytes, or grows it to that size; it never shrinks a file, so an existing
// loop file's data is never cut off. It runs through the runner rather than
// the os package because the file lives where the commands run, which is
// the host when a command prefix enters its namespaces.
func (c *Client) EnsureFile(ctx context.Context, file string, size int64) error {
	if _, err := c.run.Run(ctx, "mkdir", "-p", filepath.Dir(file)); err != nil {
		return fmt.Errorf("create the directory of %s: %w", file, err)
	}
	// ">N" is GNU truncate's "at least N": extend if smaller, else keep.
	if _, err := c.run.Run(ctx, "truncate", "--size", ">"+strconv.FormatInt(size, 10), file); err != nil {
		return fmt.Errorf("create sparse file %s: %w", file, err)
	}
	return nil
}

// stderrOf returns the stderr of a failed command, or the error text.
func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return err.Error()
}
