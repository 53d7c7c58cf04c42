package csi

import (
	"context"
	"fmt"
	"os"

	"github.com/container-storage-interface/spec/lib/go/csi"
	mount "k8s.io/mount-utils"

	api "github.com/toposuite/toposuite/internal/daemonapi"
)

// DevicePublisher publishes LVM volumes: a block device formatted and
// mounted (Mount volumes) or bind-mounted onto a file (Block volumes).
type DevicePublisher struct {
	m       *mount.SafeFormatAndMount
	resizer *mount.ResizeFs
	// defaultFS is the filesystem of Mount volumes that name none.
	defaultFS string
}

// NewDevicePublisher returns a publisher using m to format, mount and
// resize (pass a mount.SafeFormatAndMount built on the host's tools).
func NewDevicePublisher(m *mount.SafeFormatAndMount, defaultFS string) *DevicePublisher {
	return &DevicePublisher{m: m, resizer: mount.NewResizeFs(m.Exec), defaultFS: defaultFS}
}

// Publish implements Publisher.
func (p *DevicePublisher) Publish(_ context.Context, vol *api.Volume, target string, c *csi.VolumeCapability, readOnly bool) error {
	dev := vol.GetPath()
	if yes, err := mounted(p.m, target); err != nil {
		return err
	} else if yes {
		return nil
	}
	if c.GetBlock() != nil {
		if err := ensureFile(target); err != nil {
			return fmt.Errorf("create block target %s: %w", target, err)
		}
		opts := []string{"bind"}
		if readOnly {
			opts = append(opts, "ro")
		}
		return p.m.Mount(dev, target, "", opts)
	}
	fs := c.GetMount().GetFsType()
	if fs == "" {
		fs = p.defaultFS
	}
	if err := ensureDir(target); err != nil {
		return fmt.Errorf("create mount target %s: %w", target, err)
	}
	opts := append([]string{}, c.GetMount().GetMountFlags()...)
	if readOnly {
		opts = append(opts, "ro")
	}
	if err := p.m.FormatAndMount(dev, target, fs, opts); err != nil {
		return fmt.Errorf("format and mount %s on %s as %s: %w", dev, target, fs, err)
	}
	return nil
}

// Unpublish implements Publisher.
func (p *DevicePublisher) Unpublish(_ context.Context, target string) error {
	return unpublish(p.m, target)
}

// Stats implements Publisher: filesystem usage for Mount volumes, the
// device's size for Block volumes.
func (p *DevicePublisher) Stats(_ context.Context, vol *api.Volume, path string) ([]*csi.VolumeUsage, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return []*csi.VolumeUsage{{Unit: csi.VolumeUsage_BYTES, Total: vol.GetSizeBytes()}}, nil
	}
	return fsUsage(path)
}

// Expand implements Publisher: grow the filesystem to the device's size
// (xfs_growfs, resize2fs, btrfs filesystem resize).
func (p *DevicePublisher) Expand(_ context.Context, vol *api.Volume, path string) error {
	if _, err := p.resizer.Resize(vol.GetPath(), path); err != nil {
		return fmt.Errorf("grow the filesystem of %s at %s: %w", vol.GetPath(), path, err)
	}
	return nil
}
