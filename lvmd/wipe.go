package lvmd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/toposuite/toposuite/internal/storage"
	"github.com/toposuite/toposuite/lvmd/blockdev"
	"github.com/toposuite/toposuite/lvmd/config"
	"github.com/toposuite/toposuite/lvmd/lvm"
)

// wipeBeforeRemoval clears the blocks of vg/name as its class says, when
// the LV carries every one of tags: only an LV the removal that follows
// will take (lvremove is given the same tags as its selection) is wiped.
// A missing LV, or one without the tags, is left alone. A device that is
// open (mounted, or held by a process) is not touched: the removal is
// refused instead, as lvremove would refuse it.
func (b *Backend) wipeBeforeRemoval(ctx context.Context, c *class, name string, tags []string) error {
	mode := c.WipeOnRemove
	if mode == "" || mode == config.WipeNone {
		return nil
	}
	lv, err := b.lvm.LV(ctx, c.VolumeGroup, name)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, t := range tags {
		if !lv.HasTag(t) {
			return nil
		}
	}
	if lv.Origin != "" && lv.Pool == "" {
		// A thick snapshot's device is its origin's data: writing to it
		// would only fill its copy-on-write space.
		return nil
	}
	if lv.Attr.Open() {
		return storage.Errorf(storage.ErrPrecondition, "volume %q is still in use (its device is open); it is neither wiped nor removed", name)
	}
	path, err := b.devicePath(ctx, c, lv)
	if err != nil {
		return fmt.Errorf("volume %q cannot be wiped before its removal: %w", name, err)
	}
	if path == "" {
		return nil // LVM's metadata-only mode: no volume ever had a byte
	}
	start := time.Now()
	if err := wipe(path, mode, c.thin()); err != nil {
		if errors.Is(err, blockdev.ErrBusy) {
			return storage.Errorf(storage.ErrPrecondition, "volume %q is still in use: %v", name, err)
		}
		return fmt.Errorf("volume %q: wipe before removal: %w", name, err)
	}
	b.log.V(1).Info("wiped a volume before its removal", "volume", c.VolumeGroup+"/"+name, "mode", mode, "durationMs", time.Since(start).Milliseconds())
	return nil
}

// wipe clears the whole device at path (see config.WipeDiscard and
// config.WipeZero).
func wipe(path, mode string, thin bool) error {
	size, err := blockdev.Size(path)
	if err != nil {
		return err
	}
	switch {
	case mode == config.WipeZero:
		return blockdev.Zero(path, 0, size)
	case thin:
		// The pool unmaps the blocks and passes the discard down to its
		// disks; a pool that takes none has nothing to give back.
		if err := blockdev.Discard(path, 0, size); err != nil && !errors.Is(err, blockdev.ErrUnsupported) {
			return err
		}
		return nil
	}
	// A plain discard would leave what the next volume reads up to the
	// disk (many keep the old bytes): only an unmap that promises zeros
	// will do, else zeros are written.
	if err := blockdev.ZeroUnmap(path, 0, size); !errors.Is(err, blockdev.ErrUnsupported) {
		return err
	}
	return blockdev.Zero(path, 0, size)
}

// devicePath returns the device of lv, activating it when LVM's own
// activation left it inactive; "" in LVM's metadata-only mode without the
// development activation, where volumes have no device.
func (b *Backend) devicePath(ctx context.Context, c *class, lv lvm.LV) (string, error) {
	if b.dev != nil {
		return b.dev.Activate(ctx, c.VolumeGroup, lv.Name)
	}
	if !b.activation {
		return "", nil
	}
	if !lv.Attr.Active() {
		if err := b.lvm.Activate(ctx, c.VolumeGroup, lv.Name); err != nil {
			return "", err
		}
	}
	if lv.Path != "" {
		return lv.Path, nil
	}
	return b.path(c, lv.Name), nil
}
