package lvmd

import (
	"context"
	"errors"
	"fmt"

	"github.com/toposuite/toposuite/internal/storage"
	"github.com/toposuite/toposuite/lvmd/blockdev"
	"github.com/toposuite/toposuite/lvmd/config"
	"github.com/toposuite/toposuite/lvmd/lvm"
)

// copyOfTagPrefix + source name marks a volume made as a full copy of a
// thick snapshot, so that a retried restore finds its own volume.
const copyOfTagPrefix = "toposuite.io/copy-of="

// copyingTag marks a copy that has not finished: it is set by the lvcreate
// that makes the volume and taken off only once every byte is copied and
// flushed, so a volume lvmd crashed in the middle of copying is never
// taken for a finished one. Such a volume is reported unhealthy, and the
// same restore asked again copies it again.
const copyingTag = "toposuite.io/copying"

// restoreCopy makes req.Name a writable volume holding the data of the
// thick snapshot src. LVM cannot snapshot a thick snapshot, so the new
// volume is a plain one of the class with src's bytes copied into it: it
// takes the whole of its size, and the copy takes time in proportion to
// src's size. Past src's size, a bigger volume reads zeros. The volume's
// lock (key) is held; src's is not: LVM refuses to remove a device that
// is open, as src's is during the copy.
func (b *Backend) restoreCopy(ctx context.Context, c *class, key string, req storage.SnapshotRequest, src lvm.LV) (storage.Volume, error) {
	if msg := src.Attr.Health(); msg != "" {
		// An overflowed snapshot (its copy-on-write space filled up)
		// reads as I/O errors: there is nothing to restore.
		return storage.Volume{}, storage.Errorf(storage.ErrPrecondition, "snapshot %q cannot be restored: %s", src.Name, msg)
	}
	srcSize := src.OriginSize
	if srcSize <= 0 {
		return storage.Volume{}, fmt.Errorf("snapshot %q: LVM reports no origin size", src.Name)
	}
	size := req.SizeBytes
	if size == 0 {
		size = srcSize
	}
	if size < srcSize {
		return storage.Volume{}, storage.Errorf(storage.ErrInvalid, "a volume restored from snapshot %q must be at least its size, %d bytes; %d asked", src.Name, srcSize, size)
	}
	p, err := b.planCreate(c, size, "")
	if err != nil {
		return storage.Volume{}, err
	}
	v := storage.Volume{Name: req.Name, Class: c.Name, SizeBytes: p.size, Health: storage.HealthHealthy, OwnerUID: req.OwnerUID}
	lv, err := b.lvm.LV(ctx, c.VolumeGroup, req.Name)
	switch {
	case err == nil:
		if err := b.sameCopy(c, lv, req, p.size); err != nil {
			return storage.Volume{}, err
		}
		if !lv.HasTag(copyingTag) {
			return b.withDevPath(ctx, c, b.toVolume(c, lv)), nil
		}
		// A copy that did not finish (lvmd stopped in the middle): the
		// volume is ours and holds nothing of value yet; copy again.
		b.log.Info("an unfinished copy is found; copying again", "volume", key, "source", src.Name)
		if v.Path, err = b.devicePath(ctx, c, lv); err != nil {
			return storage.Volume{}, err
		}
	case errors.Is(err, storage.ErrNotFound):
		if v.Path, err = b.makeCopyTarget(ctx, c, key, req, p); err != nil {
			return storage.Volume{}, err
		}
	default:
		return storage.Volume{}, err
	}
	if err := b.fill(ctx, c, req.Name, v.Path, src, srcSize, p.size); err != nil {
		// A failed copy is taken back (a retry starts again); should that
		// fail too, the volume keeps its tag and a retry copies again.
		tags := tags(c, req.OwnerUID)
		done := b.changing()
		if _, rerr := b.removeTagged(context.WithoutCancel(ctx), c, key, req.Name, append(tags, copyingTag)); rerr != nil {
			b.log.Error(rerr, "a failed copy could not be taken back", "volume", key)
		}
		done()
		return storage.Volume{}, err
	}
	return v, nil
}

// makeCopyTarget creates the volume a copy goes into, marked unfinished.
func (b *Backend) makeCopyTarget(ctx context.Context, c *class, key string, req storage.SnapshotRequest, p plan) (string, error) {
	defer b.changing()()
	if !b.reserve(c, p.footprint) {
		return "", storage.Errorf(storage.ErrNoSpace, "class %q has %d bytes available; a volume restored from a thick snapshot is a full copy and needs %d", c.Name, max(0, b.available(c)), p.footprint)
	}
	t := append(tags(c, req.OwnerUID), copyOfTagPrefix+req.Source, copyingTag)
	return b.make(ctx, c, key, req.Name, p, "", t)
}

// sameCopy checks that an existing LV is the copy this restore asked for.
func (b *Backend) sameCopy(c *class, lv lvm.LV, req storage.SnapshotRequest, size int64) error {
	if !lv.HasTag(config.OwnerTag) || b.classOf(lv) != c || !lv.HasTag(copyOfTagPrefix+req.Source) {
		return storage.Errorf(storage.ErrExists, "volume %q exists and is not a copy of %q", req.Name, req.Source)
	}
	if err := (storage.Claim{OwnerUID: req.OwnerUID}).Check(req.Name, ownerOf(lv)); err != nil {
		return err
	}
	if lv.Size != size {
		return storage.Errorf(storage.ErrExists, "volume %q exists with size %d, not %d", req.Name, lv.Size, size)
	}
	return nil
}

// fill copies src's srcSize bytes into the device dst of volume name, of
// size bytes, zeroes the rest, and only then marks the volume finished.
func (b *Backend) fill(ctx context.Context, c *class, name, dst string, src lvm.LV, srcSize, size int64) error {
	key := c.VolumeGroup + "/" + name
	from, err := b.devicePath(ctx, c, src)
	if err != nil {
		return fmt.Errorf("snapshot %q: %w", src.Name, err)
	}
	if from == "" || dst == "" {
		return storage.Errorf(storage.ErrPrecondition, "volumes have no device here (LVM's metadata-only mode): a thick snapshot cannot be copied")
	}
	copied, err := blockdev.Copy(ctx, dst, from, srcSize)
	if err != nil {
		return fmt.Errorf("copy snapshot %q into %s: %w", src.Name, key, err)
	}
	if size > srcSize {
		// The extents may hold a removed volume's bytes.
		if err := blockdev.Zero(dst, srcSize, size-srcSize); err != nil {
			return fmt.Errorf("clear the end of %s: %w", key, err)
		}
	}
	b.log.Info("restored a thick snapshot by copying it", "volume", key, "source", src.Name, "bytes", copied.Bytes,
		"durationMs", copied.Duration.Milliseconds(), "MBps", int64(copied.MBps()), "direct", copied.Direct)
	return b.lvm.DelTag(ctx, c.VolumeGroup, name, copyingTag)
}
