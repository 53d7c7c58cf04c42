// Package lvmd is the LVM storage daemon's domain logic: it maps device
// classes to volume groups and thin pools, keeps the capacity bookkeeping,
// and creates, resizes, snapshots and removes logical volumes through the
// lvm command layer. It implements daemon.Backend; package daemon serves it.
//
// State lives only in LVM: volumes carry the owner tag and a class tag, and
// the bookkeeping is rebuilt from one `lvm fullreport` at start and on
// every poll, so a restarted lvmd knows everything.
//
// Locking: each volume has its own lock (keylock), so requests for different
// volumes run concurrently and LVM's own VG lock is the only serialisation
// between them. A refresh (the poll) takes `rw` exclusively for the ~15 ms
// its report runs, so that the figures it reads are never mixed with a
// change in flight; changes hold `rw` shared.
package lvmd

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/go-logr/logr"

	"github.com/toposuite/toposuite/internal/keylock"
	"github.com/toposuite/toposuite/internal/storage"
	"github.com/toposuite/toposuite/lvmd/config"
	"github.com/toposuite/toposuite/lvmd/lvm"
)

// lvmdTagPrefix starts every tag lvmd sets (config.OwnerTag too).
const lvmdTagPrefix = "toposuite.io/"

// classTagPrefix + class name is the tag recording an LV's device class.
const classTagPrefix = "toposuite.io/class="

// ownerTagPrefix + UID is the tag recording the object an LV belongs to
// (storage.Claim). LVM allows letters, digits and dashes in tags, and
// storage.ValidateOwnerUID allows no more.
const ownerTagPrefix = "toposuite.io/owner-uid="

// optionsTagPrefix + options class name records the lvcreate options class
// an LV was made with, so that its footprint (RAID images, parity) can be
// computed again after a restart and for a growth.
const optionsTagPrefix = "toposuite.io/options-class="

// layoutOf is the layout of a thick LV of class c (nil: unknown class):
// its options class's, else the class's own stripes.
func (b *Backend) layoutOf(c *class, lv lvm.LV) config.Layout {
	for _, t := range lv.Tags {
		if name, ok := strings.CutPrefix(t, optionsTagPrefix); ok {
			if oc, ok := b.options[name]; ok {
				return oc.layout
			}
		}
	}
	l := config.Layout{Type: "linear"}
	if c != nil {
		l.Stripes = c.Stripes
	}
	return l
}

// ownerOf returns the owner UID an LV records, "" when none.
func ownerOf(lv lvm.LV) string {
	for _, t := range lv.Tags {
		if uid, ok := strings.CutPrefix(t, ownerTagPrefix); ok {
			return uid
		}
	}
	return ""
}

// Backend is lvmd's implementation of daemon.Backend.
type Backend struct {
	lvm     *lvm.Client
	log     logr.Logger
	classes []*class
	byName  map[string]*class
	deflt   *class
	options map[string]optionClass
	vgNames []string
	// activation is false when LVM runs with activation disabled
	// (metadata-only mode); volumes then have no device path, unless dev
	// (the development loop activation) gives them one.
	activation bool
	dev        Activator

	locks keylock.Map

	mu sync.Mutex // guards st, busy and gen
	st state
	// busy counts the changes in flight and gen the changes started or
	// ended, so that Refresh knows whether its report can have missed one.
	busy int
	gen  uint64
}

type class struct {
	config.DeviceClass
	spare int64
}

func (c *class) thin() bool { return c.Type == config.TypeThin }

// poolKey is the key of the class's capacity pool in the bookkeeping: the
// VG for thick classes, vg/pool for thin ones.
func (c *class) poolKey() string {
	if c.thin() {
		return c.VolumeGroup + "/" + c.ThinPool.Name
	}
	return c.VolumeGroup
}

// Activator gives LVs a device where LVM cannot (the development loop
// activation, package devloop); nil means LVM's own activation.
type Activator interface {
	// Place chooses the extents of a new linear volume, as lvcreate's PV
	// arguments (none: LVM chooses), and returns done, to be told how the
	// lvcreate given them ended.
	Place(ctx context.Context, vg, name string, size int64, tags []string) (pvs []string, done func(error))
	Activate(ctx context.Context, vg, name string) (string, error)
	// ActivateNew shows a volume just created, on a device cleared of the
	// signatures a previous volume may have left there.
	ActivateNew(ctx context.Context, vg, name string) (string, error)
	// Deactivate takes the device away from vg/name if the LV carries all
	// of tags (checked in the same read that finds its extents), and
	// returns done, to be told whether the LV was then removed.
	Deactivate(ctx context.Context, vg, name string, tags ...string) (done func(removed bool), err error)
	Reconcile(ctx context.Context, vgs []string, want func(vg, name string) bool) (map[string]string, error)
}

type optionClass struct {
	args   []string
	layout config.Layout
}

// New validates cfg, reads LVM once and returns the backend. It fails when a
// class names a volume group or thin pool that does not exist. dev is the
// development activation, nil for LVM's own.
func New(ctx context.Context, cfg *config.Config, client *lvm.Client, dev Activator, log logr.Logger) (*Backend, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config:\n%w", err)
	}
	b := &Backend{
		lvm:     client,
		log:     log,
		byName:  map[string]*class{},
		options: map[string]optionClass{},
		vgNames: cfg.VolumeGroupNames(),
		dev:     dev,
	}
	for _, dc := range cfg.DeviceClasses {
		c := &class{DeviceClass: dc, spare: dc.SpareBytes()}
		b.classes = append(b.classes, c)
		b.byName[dc.Name] = c
		if dc.Default {
			b.deflt = c
		}
	}
	for _, oc := range cfg.LvcreateOptionClasses {
		layout, _ := config.ParseLayout(oc.Options) // validated above
		b.options[oc.Name] = optionClass{args: config.SplitOptions(oc.Options), layout: layout}
	}
	act, err := client.ActivationEnabled(ctx)
	if err != nil {
		return nil, err
	}
	b.activation = act
	if _, err := b.Refresh(ctx); err != nil {
		return nil, err
	}
	var missing []string
	b.mu.Lock()
	for _, c := range b.classes {
		if _, ok := b.st.vgs[c.VolumeGroup]; !ok {
			missing = append(missing, fmt.Sprintf("class %q: volume group %q does not exist", c.Name, c.VolumeGroup))
		} else if c.thin() && b.st.pools[c.poolKey()] == nil {
			missing = append(missing, fmt.Sprintf("class %q: thin pool %q does not exist", c.Name, c.poolKey()))
		}
	}
	b.mu.Unlock()
	if len(missing) > 0 {
		return nil, fmt.Errorf("invalid config:\n%s", strings.Join(missing, "\n"))
	}
	if b.dev != nil {
		log.Info("DEVELOPMENT activation: volumes are loop devices over their extents; never use this in production")
		if _, err := b.devPaths(ctx); err != nil {
			log.Error(err, "some volumes could not be given a loop device")
		}
	}
	return b, nil
}

// devPaths gives every volume of the suite its loop device (development
// activation) and returns them by vg/name.
func (b *Backend) devPaths(ctx context.Context) (map[string]string, error) {
	rep, err := b.lvm.FullReport(ctx, b.vgNames...)
	if err != nil {
		return nil, err
	}
	return b.devPathsOf(ctx, rep)
}

// devPathsOf is devPaths for the LVs of a report just read.
func (b *Backend) devPathsOf(ctx context.Context, rep lvm.Report) (map[string]string, error) {
	owned := map[string]bool{}
	for _, lv := range rep.LVs {
		if lv.HasTag(config.OwnerTag) && b.classOf(lv) != nil {
			owned[lv.VG+"/"+lv.Name] = true
		}
	}
	return b.dev.Reconcile(ctx, b.vgNames, func(vg, name string) bool { return owned[vg+"/"+name] })
}

// resolve returns the class named (the default for "").
func (b *Backend) resolve(name string) (*class, error) {
	if name == "" {
		return b.deflt, nil
	}
	c, ok := b.byName[name]
	if !ok {
		return nil, storage.Errorf(storage.ErrInvalid, "device class %q is not configured (configured: %s)", name, b.classNames())
	}
	return c, nil
}

func (b *Backend) classNames() string {
	names := make([]string, len(b.classes))
	for i, c := range b.classes {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}

// classOf returns the class an LV belongs to, by its class tag.
func (b *Backend) classOf(lv lvm.LV) *class {
	for _, t := range lv.Tags {
		if name, ok := strings.CutPrefix(t, classTagPrefix); ok {
			return b.byName[name]
		}
	}
	return nil
}

func (b *Backend) toVolume(c *class, lv lvm.LV) storage.Volume {
	v := storage.Volume{
		Name:      lv.Name,
		Class:     c.Name,
		SizeBytes: lv.Size,
		Source:    lv.Origin,
		Snapshot:  lv.Origin != "",
		ReadOnly:  !lv.Attr.Writable(),
		Health:    storage.HealthHealthy,
		OwnerUID:  ownerOf(lv),
	}
	for _, t := range lv.Tags {
		// lvmd's own tags are its bookkeeping, not the volume's.
		if !strings.HasPrefix(t, lvmdTagPrefix) {
			v.Tags = append(v.Tags, t)
		}
	}
	if lv.Origin != "" && lv.Pool == "" && lv.OriginSize > 0 {
		// A thick snapshot presents its origin's size; its own size is
		// the copy-on-write space.
		v.SizeBytes = lv.OriginSize
	}
	if lv.Attr.Active() {
		v.Path = lv.Path
	}
	if msg := b.health(lv); msg != "" {
		v.Health, v.HealthMessage = storage.HealthAbnormal, msg
	}
	if lv.HasTag(copyingTag) {
		v.Health, v.HealthMessage = storage.HealthAbnormal, "incomplete: the copy of its source has not finished (creating the volume again redoes it)"
	}
	if lv.Attr.VolumeType() == 'V' && lv.DataPercent >= 0 {
		used := int64(float64(lv.Size) * lv.DataPercent / 100)
		v.UsedBytes = &used
	}
	return v
}
