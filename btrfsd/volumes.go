package btrfsd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/toposuite/toposuite/btrfsd/btrfs"
	"github.com/toposuite/toposuite/internal/storage"
)

// CreateVolume implements daemon.Backend: one ioctl creates the subvolume
// with its limit, one setxattr marks it as the suite's.
func (b *Backend) CreateVolume(ctx context.Context, req storage.CreateRequest) (storage.Volume, error) {
	p, err := b.resolve(req.Class)
	if err != nil {
		return storage.Volume{}, err
	}
	if err := ValidateName(req.Name); err != nil {
		return storage.Volume{}, err
	}
	if err := storage.ValidateSize(req.SizeBytes); err != nil {
		return storage.Volume{}, err
	}
	if req.OptionsClass != "" {
		return storage.Volume{}, storage.Errorf(storage.ErrInvalid, "options classes are an LVM feature; btrfs pools take none (got %q)", req.OptionsClass)
	}
	size := roundUp(req.SizeBytes)
	defer b.locks.Lock(p.Name + "/" + req.Name)()

	if !b.reserve(p, size) {
		if v, err := b.existing(p, req.Name, size, "", req.OwnerUID); err == nil || !errors.Is(err, storage.ErrNotFound) {
			return v, err
		}
		return storage.Volume{}, storage.Errorf(storage.ErrNoSpace, "pool %q has %d bytes available, the volume needs %d", p.Name, b.available(p), size)
	}
	err = btrfs.CreateSubvolume(p.Path, req.Name, uint64(size))
	if errors.Is(err, unix.EEXIST) {
		b.settle(p, size, req.Name, 0)
		return b.existing(p, req.Name, size, "", req.OwnerUID)
	}
	if err == nil {
		err = b.mark(p, req.Name, "", req.OwnerUID)
	}
	if err != nil {
		b.settle(p, size, req.Name, 0)
		return storage.Volume{}, classify(err)
	}
	b.settle(p, size, req.Name, size)
	return storage.Volume{Name: req.Name, Class: p.Name, SizeBytes: size, Path: filepath.Join(p.Path, req.Name), Health: storage.HealthHealthy, OwnerUID: req.OwnerUID}, nil
}

// mark sets the ownership xattrs of a new subvolume; when that fails the
// subvolume is deleted again, so that nothing half-made stays behind.
func (b *Backend) mark(p *pool, name, source, ownerUID string) error {
	path := filepath.Join(p.Path, name)
	// The owner goes first: a subvolume with its class but not its owner
	// would be taken for one made before volumes recorded their owner.
	var err error
	if ownerUID != "" {
		err = unix.Setxattr(path, OwnerXattr, []byte(ownerUID), 0)
	} else if rerr := unix.Removexattr(path, OwnerXattr); rerr != nil && !errors.Is(rerr, unix.ENODATA) {
		// A snapshot starts with its source's xattrs: it must not keep
		// the source's owner.
		err = rerr
	}
	if err == nil {
		err = unix.Setxattr(path, ClassXattr, []byte(p.Name), 0)
	}
	if err == nil && source != "" {
		err = unix.Setxattr(path, SourceXattr, []byte(source), 0)
	}
	if err != nil {
		if derr := btrfs.DeleteSubvolume(p.Path, name); derr != nil {
			b.log.Error(derr, "could not delete a subvolume whose marking failed", "pool", p.Name, "volume", name)
		}
		return fmt.Errorf("mark %s as the suite's: %w", path, err)
	}
	return nil
}

// existing returns the volume of that name when it is the one a create or
// snapshot asked for, AlreadyExists or ErrOwnedByAnother when it is not,
// NotFound when absent. A create never adopts a volume of another owner, nor
// one that records none.
func (b *Backend) existing(p *pool, name string, size int64, source, ownerUID string) (storage.Volume, error) {
	v, err := b.volume(p, name)
	if err != nil {
		if errors.Is(err, errForeign) {
			return storage.Volume{}, storage.Errorf(storage.ErrExists, "%s exists and is not a volume of pool %q", filepath.Join(p.Path, name), p.Name)
		}
		return storage.Volume{}, err
	}
	if err := (storage.Claim{OwnerUID: ownerUID}).Check(name, v.OwnerUID); err != nil {
		return storage.Volume{}, err
	}
	if v.SizeBytes != size {
		return storage.Volume{}, storage.Errorf(storage.ErrExists, "volume %q exists with size %d, not %d", name, v.SizeBytes, size)
	}
	if v.Source != source {
		return storage.Volume{}, storage.Errorf(storage.ErrExists, "volume %q exists with another source", name)
	}
	return v, nil
}

var errForeign = errors.New("subvolume is not the suite's")

// volume reads one of the suite's volumes; errForeign for other subvolumes.
func (b *Backend) volume(p *pool, name string) (storage.Volume, error) {
	s, err := inspect(p.Path, name)
	if errors.Is(err, fs.ErrNotExist) {
		return storage.Volume{}, storage.Errorf(storage.ErrNotFound, "volume %q not found in pool %q", name, p.Name)
	}
	if errors.Is(err, errNotSubvolume) {
		return storage.Volume{}, errForeign
	}
	if err != nil {
		return storage.Volume{}, err
	}
	if s.class != p.Name {
		return storage.Volume{}, errForeign
	}
	return b.toVolume(p, s), nil
}

func (b *Backend) toVolume(p *pool, s subvol) storage.Volume {
	v := storage.Volume{
		Name: s.name, Class: p.Name, Path: filepath.Join(p.Path, s.name), Health: storage.HealthHealthy,
		Source: s.source, Snapshot: s.info.Snapshot, ReadOnly: s.info.ReadOnly, OwnerUID: s.owner,
	}
	q, err := btrfs.QgroupOf(b.sysfsRoot, p.fsid, s.info.ID)
	switch {
	case err != nil:
		v.Health, v.HealthMessage = storage.HealthAbnormal, fmt.Sprintf("no quota group: the size is not enforced (%v)", err)
	case q.Limit == 0:
		v.Health, v.HealthMessage = storage.HealthAbnormal, "the quota group has no limit: the size is not enforced"
	default:
		used := int64(q.Referenced)
		v.SizeBytes, v.UsedBytes = int64(q.Limit), &used
	}
	return v
}

// CreateSnapshot implements daemon.Backend: a snapshot of a volume of the
// same pool with its own limit (the source's when no size is given).
func (b *Backend) CreateSnapshot(ctx context.Context, req storage.SnapshotRequest) (storage.Volume, error) {
	p, err := b.resolve(req.Class)
	if err != nil {
		return storage.Volume{}, err
	}
	for _, n := range []string{req.Name, req.Source} {
		if err := ValidateName(n); err != nil {
			return storage.Volume{}, err
		}
	}
	if req.SizeBytes > storage.MaxVolumeBytes {
		return storage.Volume{}, storage.ValidateSize(req.SizeBytes)
	}
	defer b.locks.Lock(p.Name + "/" + req.Name)()

	src, err := b.volume(p, req.Source)
	if errors.Is(err, errForeign) {
		err = storage.Errorf(storage.ErrNotFound, "volume %q not found in pool %q", req.Source, p.Name)
	}
	if err != nil {
		return storage.Volume{}, fmt.Errorf("snapshot source: %w", err)
	}
	size := src.SizeBytes
	if req.SizeBytes > 0 {
		if roundUp(req.SizeBytes) < src.SizeBytes {
			return storage.Volume{}, storage.Errorf(storage.ErrInvalid, "snapshot size %d is smaller than its source (%d bytes)", req.SizeBytes, src.SizeBytes)
		}
		size = roundUp(req.SizeBytes)
	}
	if v, err := b.existing(p, req.Name, size, req.Source, req.OwnerUID); err == nil {
		if v.ReadOnly != req.ReadOnly {
			return storage.Volume{}, storage.Errorf(storage.ErrExists, "snapshot %q exists with another read-only setting", req.Name)
		}
		return v, nil
	} else if !errors.Is(err, storage.ErrNotFound) {
		return storage.Volume{}, err
	}
	if !b.reserve(p, size) {
		return storage.Volume{}, storage.Errorf(storage.ErrNoSpace, "pool %q has %d bytes available, the snapshot needs %d", p.Name, b.available(p), size)
	}
	// The snapshot is made writable, marked, then made read-only: a
	// read-only subvolume could not take its marks afterwards.
	err = btrfs.Snapshot(src.Path, p.Path, req.Name, false, uint64(size))
	if err == nil {
		err = b.mark(p, req.Name, req.Source, req.OwnerUID)
	}
	if err == nil && req.ReadOnly {
		if err = btrfs.SetReadOnly(filepath.Join(p.Path, req.Name), true); err != nil {
			_ = btrfs.DeleteSubvolume(p.Path, req.Name)
		}
	}
	if err != nil {
		b.settle(p, size, req.Name, 0)
		return storage.Volume{}, classify(err)
	}
	b.settle(p, size, req.Name, size)
	// The snapshot shares the source's data: its usage starts where the
	// source's is (unknown when the source has no quota group).
	return storage.Volume{
		Name: req.Name, Class: p.Name, SizeBytes: size, Path: filepath.Join(p.Path, req.Name), Health: storage.HealthHealthy,
		Source: req.Source, Snapshot: true, ReadOnly: req.ReadOnly, UsedBytes: src.UsedBytes, OwnerUID: req.OwnerUID,
	}, nil
}

// ResizeVolume implements daemon.Backend by raising the qgroup limit, by
// qgroup id: a subvolume already over its limit cannot be raised by path.
func (b *Backend) ResizeVolume(ctx context.Context, class, name string, sizeBytes int64, claim storage.Claim) (storage.Volume, error) {
	p, err := b.resolve(class)
	if err != nil {
		return storage.Volume{}, err
	}
	if err := ValidateName(name); err != nil {
		return storage.Volume{}, err
	}
	if err := storage.ValidateSize(sizeBytes); err != nil {
		return storage.Volume{}, err
	}
	defer b.locks.Lock(p.Name + "/" + name)()

	v, err := b.volume(p, name)
	if errors.Is(err, errForeign) {
		err = storage.Errorf(storage.ErrNotFound, "volume %q not found in pool %q", name, p.Name)
	}
	if err != nil {
		return storage.Volume{}, err
	}
	if err := claim.Check(name, v.OwnerUID); err != nil {
		return storage.Volume{}, err
	}
	want := roundUp(sizeBytes)
	switch {
	case want == v.SizeBytes:
		return v, nil
	case want < v.SizeBytes:
		return storage.Volume{}, storage.Errorf(storage.ErrPrecondition, "volume %q is %d bytes; shrinking to %d is not supported", name, v.SizeBytes, want)
	case v.ReadOnly:
		return storage.Volume{}, storage.Errorf(storage.ErrPrecondition, "volume %q is a read-only snapshot", name)
	}
	delta := want - v.SizeBytes
	if !b.reserve(p, delta) {
		return storage.Volume{}, storage.Errorf(storage.ErrNoSpace, "pool %q has %d bytes available, growing %q needs %d more", p.Name, b.available(p), name, delta)
	}
	info, err := btrfs.Info(v.Path)
	if err == nil {
		err = btrfs.SetLimit(p.Path, info.ID, uint64(want))
	}
	if err != nil {
		b.settle(p, delta, name, 0)
		return storage.Volume{}, classify(err)
	}
	b.settle(p, delta, name, want)
	v.SizeBytes = want
	return v, nil
}

// RemoveVolume implements daemon.Backend. Only the suite's subvolumes are
// deleted, and, for a claim with an owner, only the claim's own; a missing
// volume is success. The kernel drops the subvolume's qgroup once the
// deletion is committed.
func (b *Backend) RemoveVolume(ctx context.Context, class, name string, claim storage.Claim) error {
	p, err := b.resolve(class)
	if err != nil {
		return err
	}
	if err := ValidateName(name); err != nil {
		return err
	}
	defer b.locks.Lock(p.Name + "/" + name)()

	v, err := b.volume(p, name)
	if errors.Is(err, storage.ErrNotFound) || errors.Is(err, errForeign) {
		return nil
	} else if err != nil {
		return err
	}
	if err := claim.Check(name, v.OwnerUID); err != nil {
		return err
	}
	if err := btrfs.DeleteSubvolume(p.Path, name); err != nil && !errors.Is(err, unix.ENOENT) {
		return classify(err)
	}
	b.forget(p, name)
	return nil
}

// GetVolume implements daemon.Backend. Usage comes from the kernel's
// qgroup counters after a sync, so it is current, not up to 30 s old.
func (b *Backend) GetVolume(ctx context.Context, class, name string) (storage.Volume, error) {
	p, err := b.resolve(class)
	if err != nil {
		return storage.Volume{}, err
	}
	if err := ValidateName(name); err != nil {
		return storage.Volume{}, err
	}
	if err := btrfs.Sync(p.Path); err != nil {
		return storage.Volume{}, classify(err)
	}
	v, err := b.volume(p, name)
	if errors.Is(err, errForeign) {
		return storage.Volume{}, storage.Errorf(storage.ErrNotFound, "volume %q not found in pool %q", name, p.Name)
	}
	return v, err
}

// ListVolumes implements daemon.Backend.
func (b *Backend) ListVolumes(ctx context.Context, class string) ([]storage.Volume, error) {
	pools := b.pools
	if class != "" {
		p, err := b.resolve(class)
		if err != nil {
			return nil, err
		}
		pools = []*pool{p}
	}
	var out []storage.Volume
	for _, p := range pools {
		subs, err := scan(p.Path)
		if err != nil {
			return nil, err
		}
		for _, s := range subs {
			if s.class == p.Name {
				out = append(out, b.toVolume(p, s))
			}
		}
	}
	return out, nil
}

// classify gives kernel errors their domain kind.
func classify(err error) error {
	switch {
	case errors.Is(err, unix.EDQUOT), errors.Is(err, unix.ENOSPC):
		return storage.Errorf(storage.ErrNoSpace, "%w", err)
	case errors.Is(err, unix.ENOTEMPTY):
		return storage.Errorf(storage.ErrPrecondition, "%w", err)
	case errors.Is(err, unix.ENOENT):
		return storage.Errorf(storage.ErrNotFound, "%w", err)
	case errors.Is(err, unix.EEXIST):
		return storage.Errorf(storage.ErrExists, "%w", err)
	case errors.Is(err, unix.EROFS):
		return storage.Errorf(storage.ErrPrecondition, "%w", err)
	}
	return err
}
