package csi

import (
	"context"
	"fmt"

	"github.com/container-storage-interface/spec/lib/go/csi"
	mount "k8s.io/mount-utils"

	api "github.com/toposuite/toposuite/internal/daemonapi"
)

// DirPublisher publishes btrfs volumes: the subvolume's directory is
// bind-mounted onto the target, read-only when asked. The size is the
// quota limit, so there is no filesystem to grow and usage comes from the
// quota group, not from statfs (which shows the whole filesystem).
type DirPublisher struct {
	m mount.Interface
}

// NewDirPublisher returns a publisher mounting with m.
func NewDirPublisher(m mount.Interface) *DirPublisher { return &DirPublisher{m: m} }

// Publish implements Publisher.
func (p *DirPublisher) Publish(_ context.Context, vol *api.Volume, target string, c *csi.VolumeCapability, readOnly bool) error {
	if yes, err := mounted(p.m, target); err != nil {
		return err
	} else if yes {
		return nil
	}
	if err := ensureDir(target); err != nil {
		return fmt.Errorf("create mount target %s: %w", target, err)
	}
	opts := append([]string{"bind"}, c.GetMount().GetMountFlags()...)
	if readOnly {
		opts = append(opts, "ro")
	}
	return p.m.Mount(vol.GetPath(), target, "", opts)
}

// Unpublish implements Publisher.
func (p *DirPublisher) Unpublish(_ context.Context, target string) error {
	return unpublish(p.m, target)
}

// Stats implements Publisher: bytes from the quota group, inodes from the filesystem.
func (p *DirPublisher) Stats(_ context.Context, vol *api.Volume, path string) ([]*csi.VolumeUsage, error) {
	usage, err := fsUsage(path)
	if err != nil {
		return nil, err
	}
	used := vol.GetUsedBytes()
	usage[0] = &csi.VolumeUsage{Unit: csi.VolumeUsage_BYTES, Total: vol.GetSizeBytes(), Used: used, Available: max(0, vol.GetSizeBytes()-used)}
	return usage, nil
}

// Expand implements Publisher: nothing to do, the node's daemon already
// raised the quota limit when the controller grew the volume.
func (p *DirPublisher) Expand(context.Context, *api.Volume, string) error { return nil }
