package lvmd

import (
	"context"
	"errors"
	"fmt"

	"github.com/toposuite/toposuite/internal/storage"
	"github.com/toposuite/toposuite/lvmd/config"
	"github.com/toposuite/toposuite/lvmd/lvm"
)

func roundUp(n, unit int64) int64 { return (n + unit - 1) / unit * unit }

// tags returns the tags a volume of class c carries: every volume lvmd
// makes has the first two, a volume made for an object also its owner's.
func tags(c *class, ownerUID string) []string {
	t := []string{config.OwnerTag, classTagPrefix + c.Name}
	if ownerUID != "" {
		t = append(t, ownerTagPrefix+ownerUID)
	}
	return t
}

// plan is what a create will take and how it will be rounded.
type plan struct {
	size, footprint int64
	options         []string
}

func (b *Backend) planCreate(c *class, size int64, optionsClass string) (plan, error) {
	extent, ok := b.extent(c.VolumeGroup)
	if !ok {
		return plan{}, storage.Errorf(storage.ErrPrecondition, "volume group %q of class %q does not exist", c.VolumeGroup, c.Name)
	}
	if c.thin() {
		if optionsClass != "" {
			return plan{}, storage.Errorf(storage.ErrInvalid, "options class %q cannot be used with thin class %q", optionsClass, c.Name)
		}
		s := roundUp(size, extent)
		return plan{size: s, footprint: s}, nil
	}
	layout := config.Layout{Type: "linear", Stripes: c.Stripes}
	var opts []string
	if optionsClass != "" {
		oc, ok := b.options[optionsClass]
		if !ok {
			return plan{}, storage.Errorf(storage.ErrInvalid, "lvcreate options class %q is not configured", optionsClass)
		}
		layout, opts = oc.layout, oc.args
	}
	unit := extent * int64(max(layout.Stripes, 1))
	return plan{size: roundUp(size, unit), footprint: layout.Footprint(size, extent), options: opts}, nil
}

// CreateVolume implements daemon.Backend.
func (b *Backend) CreateVolume(ctx context.Context, req storage.CreateRequest) (storage.Volume, error) {
	c, err := b.resolve(req.Class)
	if err != nil {
		return storage.Volume{}, err
	}
	if err := lvm.ValidateName(req.Name); err != nil {
		return storage.Volume{}, err
	}
	if err := storage.ValidateSize(req.SizeBytes); err != nil {
		return storage.Volume{}, err
	}
	key := c.VolumeGroup + "/" + req.Name
	defer b.locks.Lock(key)()
	defer b.changing()()

	p, err := b.planCreate(c, req.SizeBytes, req.OptionsClass)
	if err != nil {
		return storage.Volume{}, err
	}
	if !b.reserve(c, p.footprint) {
		// Before saying no, make sure this is not a retry of a create that
		// succeeded: idempotency wins over the capacity check.
		if v, err := b.existing(ctx, c, req.Name, p.size, req.OwnerUID); err == nil || !errors.Is(err, storage.ErrNotFound) {
			return v, err
		}
		return storage.Volume{}, storage.Errorf(storage.ErrNoSpace, "class %q has %d bytes available, the volume needs %d", c.Name, max(0, b.available(c)), p.footprint)
	}
	path, err := b.make(ctx, c, key, req.Name, p, req.OptionsClass, tags(c, req.OwnerUID))
	if errors.Is(err, storage.ErrExists) {
		return b.existing(ctx, c, req.Name, p.size, req.OwnerUID)
	}
	if err != nil {
		return storage.Volume{}, err
	}
	return storage.Volume{
		Name: req.Name, Class: c.Name, SizeBytes: p.size, Path: path, Health: storage.HealthHealthy, OwnerUID: req.OwnerUID,
	}, nil
}

// make creates vg/name as planned, with p.footprint reserved already
// (the reservation is settled here), and returns its device.
func (b *Backend) make(ctx context.Context, c *class, key, name string, p plan, optionsClass string, tags []string) (string, error) {
	args := lvm.CreateArgs{VG: c.VolumeGroup, Name: name, SizeBytes: p.size, Options: p.options, Tags: tags}
	switch {
	case c.thin():
		args.ThinPool = c.ThinPool.Name
	case optionsClass != "":
		// The options class is the whole layout: the class's own stripes
		// would contradict it (LVM refuses -i with --type=raid1).
		args.Tags = append(args.Tags, optionsTagPrefix+optionsClass)
	default:
		args.Stripes, args.StripeSize = c.Stripes, c.StripeSize
	}
	if err := b.create(ctx, args); err != nil {
		b.settle(c, p.footprint, key, nil)
		return "", err
	}
	b.settle(c, p.footprint, key, &lvState{footprint: p.footprint, poolKey: c.poolKey()})
	path := b.path(c, name)
	if b.dev != nil {
		var err error
		if path, err = b.dev.ActivateNew(ctx, c.VolumeGroup, name); err != nil {
			// A volume without a device is of no use: take it back.
			if _, rerr := b.lvm.RemoveTagged(ctx, c.VolumeGroup, name, classTagPrefix+c.Name); rerr == nil {
				b.forget(key)
			}
			return "", fmt.Errorf("development activation of %s: %w", key, err)
		}
	}
	return path, nil
}

// create runs lvcreate. With the development activation, a plain linear
// volume goes where the activator places it; when LVM refuses those
// extents (the activator's picture was stale), LVM chooses.
func (b *Backend) create(ctx context.Context, args lvm.CreateArgs) error {
	if b.dev == nil || args.ThinPool != "" || args.Stripes > 1 || len(args.Options) > 0 {
		return b.lvm.Create(ctx, args)
	}
	var done func(error)
	args.PVs, done = b.dev.Place(ctx, args.VG, args.Name, args.SizeBytes, args.Tags)
	err := b.lvm.Create(ctx, args)
	done(err)
	if err != nil && len(args.PVs) > 0 && !errors.Is(err, storage.ErrExists) {
		b.log.Info("lvcreate refused the extents chosen for it; letting LVM choose", "volume", args.VG+"/"+args.Name, "extents", args.PVs, "error", err.Error())
		args.PVs = nil
		err = b.lvm.Create(ctx, args)
	}
	return err
}

// withDevPath fills in the development activation's device of a volume.
func (b *Backend) withDevPath(ctx context.Context, c *class, v storage.Volume) storage.Volume {
	if b.dev == nil {
		return v
	}
	path, err := b.dev.Activate(ctx, c.VolumeGroup, v.Name)
	if err != nil {
		v.Health, v.HealthMessage = storage.HealthAbnormal, "no device: "+err.Error()
		return v
	}
	v.Path = path
	return v
}

func (b *Backend) available(c *class) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.availableLocked(c)
}

// path is where LVM puts the device of an active LV.
func (b *Backend) path(c *class, name string) string {
	if !b.activation {
		return ""
	}
	return "/dev/" + c.VolumeGroup + "/" + name
}

// existing returns the volume of that name when it is the one a create asked
// for (managed, same class, same rounded size, same owner), AlreadyExists or
// ErrOwnedByAnother otherwise. A create never adopts a volume of another
// owner, nor one that records none: that is how a second object naming a
// live volume would take it over.
func (b *Backend) existing(ctx context.Context, c *class, name string, size int64, ownerUID string) (storage.Volume, error) {
	lv, err := b.lvm.LV(ctx, c.VolumeGroup, name)
	if err != nil {
		return storage.Volume{}, err
	}
	if !lv.HasTag(config.OwnerTag) {
		return storage.Volume{}, storage.Errorf(storage.ErrExists, "logical volume %s/%s exists and is not managed by lvmd", c.VolumeGroup, name)
	}
	if got := b.classOf(lv); got != c {
		return storage.Volume{}, storage.Errorf(storage.ErrExists, "volume %q exists in another device class", name)
	}
	if err := (storage.Claim{OwnerUID: ownerUID}).Check(name, ownerOf(lv)); err != nil {
		return storage.Volume{}, err
	}
	if lv.Size != size {
		return storage.Volume{}, storage.Errorf(storage.ErrExists, "volume %q exists with size %d, not %d", name, lv.Size, size)
	}
	if lv.HasTag(copyingTag) {
		return storage.Volume{}, storage.Errorf(storage.ErrExists, "volume %q exists: an unfinished copy of a snapshot", name)
	}
	return b.withDevPath(ctx, c, b.toVolume(c, lv)), nil
}

// owned returns an LV of class c that lvmd manages; NotFound otherwise
// (an LV that is not ours is, for the API, not there).
func (b *Backend) owned(ctx context.Context, c *class, name string) (lvm.LV, error) {
	lv, err := b.lvm.LV(ctx, c.VolumeGroup, name)
	if err != nil {
		return lvm.LV{}, err
	}
	if !lv.HasTag(config.OwnerTag) || b.classOf(lv) != c {
		return lvm.LV{}, storage.Errorf(storage.ErrNotFound, "volume %q not found in class %q", name, c.Name)
	}
	return lv, nil
}

// CreateSnapshot implements daemon.Backend.
func (b *Backend) CreateSnapshot(ctx context.Context, req storage.SnapshotRequest) (storage.Volume, error) {
	c, err := b.resolve(req.Class)
	if err != nil {
		return storage.Volume{}, err
	}
	for _, n := range []string{req.Name, req.Source} {
		if err := lvm.ValidateName(n); err != nil {
			return storage.Volume{}, err
		}
	}
	if req.SizeBytes > storage.MaxVolumeBytes {
		return storage.Volume{}, storage.ValidateSize(req.SizeBytes)
	}
	key := c.VolumeGroup + "/" + req.Name
	defer b.locks.Lock(key)()

	src, err := b.owned(ctx, c, req.Source)
	if err != nil {
		return storage.Volume{}, fmt.Errorf("snapshot source: %w", err)
	}
	if src.Origin != "" && !c.thin() {
		if req.ReadOnly {
			return storage.Volume{}, storage.Errorf(storage.ErrPrecondition, "volume %q is a thick snapshot; LVM cannot snapshot it (restore it into a volume, and snapshot that)", req.Source)
		}
		// LVM cannot snapshot a thick snapshot: the new volume is a copy.
		return b.restoreCopy(ctx, c, key, req, src)
	}
	defer b.changing()()
	if lv, err := b.lvm.LV(ctx, c.VolumeGroup, req.Name); err == nil {
		return b.sameSnapshot(c, lv, req, src)
	} else if !errors.Is(err, storage.ErrNotFound) {
		return storage.Volume{}, err
	}

	extent, _ := b.extent(c.VolumeGroup)
	args := lvm.SnapshotArgs{VG: c.VolumeGroup, Name: req.Name, Source: req.Source, ReadOnly: req.ReadOnly, Tags: tags(c, req.OwnerUID)}
	var footprint, grow int64
	if c.thin() {
		// A thin snapshot has its source's size; a bigger one is grown after.
		footprint = src.Size
		if req.SizeBytes > src.Size {
			grow = roundUp(req.SizeBytes, extent)
			footprint = grow
		}
	} else {
		if req.SizeBytes == 0 {
			return storage.Volume{}, storage.Errorf(storage.ErrInvalid, "thick snapshots need a size (their copy-on-write space)")
		}
		args.SizeBytes = roundUp(req.SizeBytes, extent)
		footprint = args.SizeBytes
	}
	if req.SizeBytes > 0 && req.SizeBytes < src.Size && c.thin() {
		return storage.Volume{}, storage.Errorf(storage.ErrInvalid, "snapshot size %d is smaller than its source (%d bytes)", req.SizeBytes, src.Size)
	}
	if !b.reserve(c, footprint) {
		return storage.Volume{}, storage.Errorf(storage.ErrNoSpace, "class %q has %d bytes available, the snapshot needs %d", c.Name, max(0, b.available(c)), footprint)
	}
	err = b.lvm.Snapshot(ctx, args)
	if err == nil && grow > 0 {
		if err = b.lvm.Extend(ctx, c.VolumeGroup, req.Name, grow); err != nil {
			err = fmt.Errorf("snapshot %q was created but could not be grown to %d bytes: %w", req.Name, grow, err)
		}
	}
	if err != nil {
		b.settle(c, footprint, key, nil)
		return storage.Volume{}, err
	}
	st := lvState{footprint: footprint, poolKey: c.poolKey()}
	if !c.thin() {
		st.origin = req.Source
	}
	b.settle(c, footprint, key, &st)
	size := src.Size
	if grow > 0 {
		size = grow
	}
	return storage.Volume{
		Name: req.Name, Class: c.Name, SizeBytes: size, Path: b.path(c, req.Name), Source: req.Source,
		Snapshot: true, ReadOnly: req.ReadOnly, Health: storage.HealthHealthy, OwnerUID: req.OwnerUID,
	}, nil
}

func (b *Backend) sameSnapshot(c *class, lv lvm.LV, req storage.SnapshotRequest, src lvm.LV) (storage.Volume, error) {
	if err := (storage.Claim{OwnerUID: req.OwnerUID}).Check(req.Name, ownerOf(lv)); err != nil && lv.HasTag(config.OwnerTag) {
		return storage.Volume{}, err
	}
	switch {
	case !lv.HasTag(config.OwnerTag) || b.classOf(lv) != c:
		return storage.Volume{}, storage.Errorf(storage.ErrExists, "volume %q exists and is not a snapshot of this class", req.Name)
	case lv.Origin != req.Source:
		return storage.Volume{}, storage.Errorf(storage.ErrExists, "volume %q exists and is not a snapshot of %q", req.Name, req.Source)
	case lv.Attr.Writable() == req.ReadOnly:
		return storage.Volume{}, storage.Errorf(storage.ErrExists, "snapshot %q exists with another read-only setting", req.Name)
	case c.thin() && req.SizeBytes > src.Size && lv.Size < req.SizeBytes:
		return storage.Volume{}, storage.Errorf(storage.ErrExists, "snapshot %q exists with size %d, smaller than %d", req.Name, lv.Size, req.SizeBytes)
	}
	return b.toVolume(c, lv), nil
}

// ResizeVolume implements daemon.Backend.
func (b *Backend) ResizeVolume(ctx context.Context, className, name string, size int64, claim storage.Claim) (storage.Volume, error) {
	c, err := b.resolve(className)
	if err != nil {
		return storage.Volume{}, err
	}
	if err := lvm.ValidateName(name); err != nil {
		return storage.Volume{}, err
	}
	if err := storage.ValidateSize(size); err != nil {
		return storage.Volume{}, err
	}
	key := c.VolumeGroup + "/" + name
	defer b.locks.Lock(key)()
	defer b.changing()()

	lv, err := b.owned(ctx, c, name)
	if err != nil {
		return storage.Volume{}, err
	}
	if err := claim.Check(name, ownerOf(lv)); err != nil {
		return storage.Volume{}, err
	}
	extent, _ := b.extent(c.VolumeGroup)
	layout := b.layoutOf(c, lv)
	unit := extent
	if !c.thin() {
		unit *= int64(max(layout.Stripes, 1))
	}
	want := roundUp(size, unit)
	switch {
	case want == lv.Size:
		// Also the retry of a grow whose device could not follow at once.
		return b.resized(ctx, c, lv)
	case want < lv.Size:
		return storage.Volume{}, storage.Errorf(storage.ErrPrecondition, "volume %q is %d bytes; shrinking to %d is not supported", name, lv.Size, want)
	case lv.Origin != "" && !c.thin():
		return storage.Volume{}, storage.Errorf(storage.ErrPrecondition, "volume %q is a thick snapshot and cannot be resized", name)
	}
	extend := b.lvm.Extend
	if b.dev != nil {
		// The development device maps one run of extents: refuse a volume
		// it cannot show before changing anything, and grow only into the
		// extents that follow, so that the device can follow the LV.
		if _, err := b.dev.Activate(ctx, c.VolumeGroup, name); err != nil {
			return storage.Volume{}, fmt.Errorf("volume %q cannot be grown: %w", name, err)
		}
		extend = b.lvm.ExtendContiguous
	}
	// What the growth takes: for a thick volume its layout's footprint
	// grows (every RAID image grows, parity with the data).
	delta := want - lv.Size
	if !c.thin() {
		delta = layout.Footprint(want, extent) - layout.Footprint(lv.Size, extent)
	}
	if !b.reserve(c, delta) {
		return storage.Volume{}, storage.Errorf(storage.ErrNoSpace, "class %q has %d bytes available, growing %q needs %d more", c.Name, max(0, b.available(c)), name, delta)
	}
	if err := extend(ctx, c.VolumeGroup, name, want); err != nil {
		b.settle(c, delta, key, nil)
		if errors.Is(err, lvm.ErrNoContiguousRoom) {
			return storage.Volume{}, fmt.Errorf("volume %q cannot be grown in place to %d bytes: another volume or the end of the physical volume follows it, and the development loop activation needs each volume in one contiguous run of extents: %w", name, want, err)
		}
		return storage.Volume{}, err
	}
	b.mu.Lock()
	old := b.st.lvs[key]
	b.mu.Unlock()
	old.poolKey = c.poolKey()
	old.footprint += delta
	b.settle(c, delta, key, &old)
	lv.Size = want
	return b.resized(ctx, c, lv)
}

// resized answers a resize. With the development activation the device
// must show the new size, or the user would see a bigger volume with the
// old device under it: that is an error (a retry, finding the LV grown
// already, tries the device again).
func (b *Backend) resized(ctx context.Context, c *class, lv lvm.LV) (storage.Volume, error) {
	v := b.toVolume(c, lv)
	if b.dev == nil {
		return v, nil
	}
	path, err := b.dev.Activate(ctx, c.VolumeGroup, lv.Name)
	if err != nil {
		return storage.Volume{}, fmt.Errorf("volume %q is %d bytes in LVM but its development device could not follow: %w", lv.Name, lv.Size, err)
	}
	v.Path = path
	return v, nil
}

// RemoveVolume implements daemon.Backend. Only an LV carrying the owner tag
// is ever removed, and, for a claim with an owner, only the claim's own LV:
// deleting a second object that names a live volume leaves the volume to
// the object it belongs to. Removing a missing volume succeeds.
func (b *Backend) RemoveVolume(ctx context.Context, className, name string, claim storage.Claim) error {
	c, err := b.resolve(className)
	if err != nil {
		return err
	}
	if err := lvm.ValidateName(name); err != nil {
		return err
	}
	key := c.VolumeGroup + "/" + name
	defer b.locks.Lock(key)()
	defer b.changing()()

	if b.hasSnapshots(c.VolumeGroup, name) {
		return storage.Errorf(storage.ErrPrecondition, "volume %q has thick snapshots; remove them first (LVM would remove them with it)", name)
	}
	removed, err := b.removeTagged(ctx, c, key, name, tags(c, claim.OwnerUID))
	if err != nil || removed || claim.OwnerUID == "" {
		return err
	}
	// Nothing carried the claim's tags: the volume is gone, or it is not
	// the claim's. Only this path pays for a report.
	lv, err := b.owned(ctx, c, name)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := claim.Check(name, ownerOf(lv)); err != nil {
		return err
	}
	// A volume that records no owner, adopted by the claim. The volume's
	// lock is held, and only lvmd tags volumes, so it is still untagged.
	_, err = b.removeTagged(ctx, c, key, name, tags(c, ""))
	return err
}

// removeTagged removes vg/name if it carries all tags, wiping its blocks
// (the class's wipeOnRemove) and taking its development device first. A
// missing volume is not an error.
func (b *Backend) removeTagged(ctx context.Context, c *class, key, name string, tags []string) (bool, error) {
	if err := b.wipeBeforeRemoval(ctx, c, name, tags); err != nil {
		return false, err
	}
	deactivated := func(bool) {}
	if b.dev != nil {
		// Only a volume with these tags loses its device: the tags are
		// checked in the report that locates it, so no lvs of its own is
		// needed.
		var err error
		if deactivated, err = b.dev.Deactivate(ctx, c.VolumeGroup, name, tags...); err != nil {
			return false, storage.Errorf(storage.ErrPrecondition, "volume %q is still in use (development activation): %w", name, err)
		}
	}
	removed, err := b.lvm.RemoveTagged(ctx, c.VolumeGroup, name, tags[1:]...)
	deactivated(removed || errors.Is(err, storage.ErrNotFound))
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return false, nil
		}
		return false, err
	}
	if removed {
		b.forget(key)
	}
	return removed, nil
}

// GetVolume implements daemon.Backend.
func (b *Backend) GetVolume(ctx context.Context, className, name string) (storage.Volume, error) {
	c, err := b.resolve(className)
	if err != nil {
		return storage.Volume{}, err
	}
	if err := lvm.ValidateName(name); err != nil {
		return storage.Volume{}, err
	}
	lv, err := b.owned(ctx, c, name)
	if err != nil {
		return storage.Volume{}, err
	}
	return b.withDevPath(ctx, c, b.toVolume(c, lv)), nil
}

// ListVolumes implements daemon.Backend.
func (b *Backend) ListVolumes(ctx context.Context, className string) ([]storage.Volume, error) {
	var only *class
	if className != "" {
		c, err := b.resolve(className)
		if err != nil {
			return nil, err
		}
		only = c
	}
	rep, err := b.lvm.FullReport(ctx, b.vgNames...)
	if err != nil {
		return nil, err
	}
	var devs map[string]string
	if b.dev != nil {
		devs, _ = b.devPathsOf(ctx, rep) // a volume without a device shows it in its health
	}
	var out []storage.Volume
	for _, lv := range rep.LVs {
		if !lv.HasTag(config.OwnerTag) {
			continue
		}
		c := b.classOf(lv)
		if c == nil || (only != nil && c != only) {
			continue
		}
		v := b.toVolume(c, lv)
		if b.dev != nil {
			if v.Path = devs[lv.VG+"/"+lv.Name]; v.Path == "" {
				v.Health, v.HealthMessage = storage.HealthAbnormal, "no device: the development activation could not show it"
			}
		}
		out = append(out, v)
	}
	return out, nil
}
