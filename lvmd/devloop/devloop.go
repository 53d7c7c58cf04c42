// Package devloop is lvmd's development activation mode, for machines
// without device-mapper (like every development and CI machine of this
// project), where LVM runs in metadata-only mode and logical volumes have no
// device node. It exposes each linear LV whose extents are contiguous on one
// physical volume as a loop device over exactly those bytes of the PV
// (losetup --offset --sizelimit), and grows the loop device when the LV
// grows, so that the node path — mkfs, mount, raw block, stats, expansion —
// runs for real in tests, csi-sanity and the demo.
//
// DEVELOPMENT ONLY. Production uses LVM's own activation and /dev/<vg>/<lv>.
// The mode has limits that production must never have: an LV that is not one
// contiguous run of extents cannot be shown (its volume reports an error), a
// volume grows only into the extents right after it (a resize fails
// otherwise, changing nothing), and writes go to the PV behind LVM's back.
//
// State lives in the kernel's loop devices (their backing PV and offset), so
// a restarted lvmd finds the loop devices it made.
package devloop

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/toposuite/toposuite/internal/disk"
	"github.com/toposuite/toposuite/internal/exec"
	"github.com/toposuite/toposuite/internal/freshread"
	"github.com/toposuite/toposuite/internal/storage"
	"github.com/toposuite/toposuite/lvmd/lvm"
)

// Activator shows LVs as loop devices.
type Activator struct {
	run   exec.Runner
	lvm   *lvm.Client
	disks *disk.Client
	// segs shares `pvs --segments` reports between concurrent callers: a
	// burst of creates on one volume group (33 at once per node in the
	// provisioning benchmark) would otherwise run one each, queued behind
	// the lvcreates for LVM's VG lock. A caller is served by a report that
	// started after it asked, which shows its own lvcreate.
	segs freshread.Group[struct{}, []lvm.PVSegment]
	// space places creates and finds the extents of removals without a
	// report, from the last one and this process's changes since.
	space space

	// seen remembers the loop device last attached or found over each
	// "pv@offset", so that a removal needs no listing of every loop device
	// of the machine (losetup --list opens each one, and waits behind those
	// being attached or detached: 55-75 ms a removal in a burst, seconds
	// at worst). A remembered device is checked before it is used.
	mu   sync.Mutex
	seen map[string]string
}

// New returns an activator running losetup through run and LVM through l.
func New(run exec.Runner, l *lvm.Client) *Activator {
	return &Activator{run: run, lvm: l, disks: disk.New(run), seen: map[string]string{}}
}

// segments returns the segments of every PV LVM sees, from a report that
// started after the call (shared: read only).
func (a *Activator) segments(ctx context.Context) ([]lvm.PVSegment, error) {
	return a.segs.Do(ctx, struct{}{}, func(ctx context.Context) ([]lvm.PVSegment, error) {
		since := a.space.generation()
		segs, err := a.lvm.PVSegments(ctx)
		if err == nil {
			a.space.load(segs, since)
		}
		return segs, err
	})
}

// Place chooses the extents of a new linear volume of size bytes in vg
// (the first run that holds it, so that every volume is one run) and
// returns them as lvcreate's PV argument, and done, which must be told how
// the lvcreate ended. No argument (LVM chooses) when no run holds it.
func (a *Activator) Place(ctx context.Context, vg, name string, size int64, tags []string) ([]string, func(error)) {
	pl, ok := a.space.place(vg, name, size, tags)
	if !ok {
		// Not read yet, or full by a picture that may miss removals.
		if _, err := a.segments(ctx); err != nil {
			return nil, func(error) {}
		}
		if pl, ok = a.space.place(vg, name, size, tags); !ok {
			return nil, func(error) {}
		}
	}
	return []string{pvArg(pl.seg)}, func(err error) { a.space.done(pl, err == nil) }
}

// ErrNotContiguous: the LV's extents are not one run on one PV.
var ErrNotContiguous = errors.New("the logical volume is not one contiguous run of extents, which the development loop activation needs")

// segment returns the one PV segment of vg/name; NotFound when the LV has none.
func (a *Activator) segment(ctx context.Context, vg, name string) (lvm.PVSegment, error) {
	segs, err := a.segments(ctx)
	if err != nil {
		return lvm.PVSegment{}, err
	}
	var mine []lvm.PVSegment
	for _, s := range segs {
		if s.VG == vg && s.LV == name {
			mine = append(mine, s)
		}
	}
	switch len(mine) {
	case 0:
		return lvm.PVSegment{}, storage.Errorf(storage.ErrNotFound, "logical volume %s/%s has no extents", vg, name)
	case 1:
		return mine[0], nil
	}
	return lvm.PVSegment{}, storage.Errorf(storage.ErrPrecondition, "%s/%s: %w", vg, name, ErrNotContiguous)
}

// Activate returns the loop device showing vg/name, attaching one, or
// growing the existing one after the LV grew.
func (a *Activator) Activate(ctx context.Context, vg, name string) (string, error) {
	seg, err := a.segment(ctx, vg, name)
	if err != nil {
		return "", err
	}
	return a.ensure(ctx, seg)
}

func (a *Activator) ensure(ctx context.Context, seg lvm.PVSegment) (string, error) {
	loops, err := a.disks.LoopsBackedBy(ctx, seg.PV)
	if err != nil {
		return "", err
	}
	return a.ensureIn(ctx, seg, loops)
}

// ensureIn is ensure with the loop devices over seg's PV already listed.
func (a *Activator) ensureIn(ctx context.Context, seg lvm.PVSegment, loops []disk.Loop) (string, error) {
	for _, l := range loops {
		if l.Offset != seg.Offset {
			continue
		}
		if l.SizeLimit != seg.Size {
			if err := resize(l.Path, seg.Size); err != nil {
				return "", err
			}
		}
		a.remember(seg.PV, seg.Offset, l.Path)
		return l.Path, nil
	}
	return a.attach(ctx, seg)
}

// attach attaches a loop device over the segment.
func (a *Activator) attach(ctx context.Context, seg lvm.PVSegment) (string, error) {
	res, err := a.run.Run(ctx, "losetup", "--find", "--show",
		"--offset", strconv.FormatInt(seg.Offset, 10), "--sizelimit", strconv.FormatInt(seg.Size, 10), seg.PV)
	if err != nil {
		return "", fmt.Errorf("attach a loop device over %s of %s: %w", seg.LV, seg.PV, err)
	}
	dev := strings.TrimSpace(string(res.Stdout))
	if !strings.HasPrefix(dev, "/dev/") {
		return "", fmt.Errorf("losetup printed %q, not a device", dev)
	}
	a.remember(seg.PV, seg.Offset, dev)
	return dev, nil
}

func segKey(pv string, offset int64) string { return pv + "@" + strconv.FormatInt(offset, 10) }

func (a *Activator) remember(pv string, offset int64, dev string) {
	a.mu.Lock()
	a.seen[segKey(pv, offset)] = dev
	a.mu.Unlock()
}

func (a *Activator) forget(pv string, offset int64) {
	a.mu.Lock()
	delete(a.seen, segKey(pv, offset))
	a.mu.Unlock()
}

// recalled returns the device remembered over pv at offset when it still
// is a loop device over exactly that: its backing device is pv (by device
// number, which every mount namespace agrees on) and its offset is offset.
func (a *Activator) recalled(pv string, offset int64) string {
	a.mu.Lock()
	dev := a.seen[segKey(pv, offset)]
	a.mu.Unlock()
	if dev == "" {
		return ""
	}
	var st unix.Stat_t
	if err := unix.Stat(pv, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return ""
	}
	f, err := os.Open(dev)
	if err != nil {
		return ""
	}
	defer f.Close()
	info, err := unix.IoctlLoopGetStatus64(int(f.Fd()))
	if err != nil || info.Rdevice != st.Rdev || info.Offset != uint64(offset) {
		return ""
	}
	return dev
}

// ActivateNew shows a volume just created: no loop device can show it yet
// (a removal detaches its device, and Reconcile drops stale ones at start),
// so it attaches at once, then clears the device's first and last MiB, as
// lvcreate does on real LVM (-Z/-W): the extents may still hold the
// filesystem of a volume removed before, which would make mkfs's safety
// checks refuse the device. Two commands fewer than Activate + wipefs, and
// three fewer when Place chose the extents: LVM took exactly those.
func (a *Activator) ActivateNew(ctx context.Context, vg, name string) (string, error) {
	seg, ok := a.space.takePlaced(vg, name)
	if !ok {
		var err error
		if seg, err = a.segment(ctx, vg, name); err != nil {
			return "", err
		}
	}
	dev, err := a.attach(ctx, seg)
	if err != nil {
		return "", err
	}
	return dev, zeroEnds(dev, seg.Size)
}

// zeroEnds writes zeros over the first and last MiB of dev, where
// filesystem, partition-table and RAID signatures live.
func zeroEnds(dev string, size int64) error {
	f, err := os.OpenFile(dev, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	zeros := make([]byte, min(size, 1<<20))
	for _, off := range []int64{0, size - int64(len(zeros))} {
		if _, err := f.WriteAt(zeros, off); err != nil {
			return fmt.Errorf("clear %s at %d: %w", dev, off, err)
		}
	}
	return f.Sync()
}

// Deactivate detaches the loop device of vg/name, if any, when the LV
// carries every one of tags (the caller's proof of ownership, read with the
// extents: from the report, or from the create that placed them). A missing
// LV, or one without the tags, is not an error: there is nothing of ours to
// detach. done must be told whether the LV was then removed: its extents
// are free in the picture from then on, not before (a report read while
// lvremove runs still shows the LV).
func (a *Activator) Deactivate(ctx context.Context, vg, name string, tags ...string) (done func(removed bool), err error) {
	nothing := func(bool) {}
	seg, ok := a.space.find(vg, name)
	if !ok {
		seg, err = a.segment(ctx, vg, name)
		if errors.Is(err, storage.ErrNotFound) {
			return nothing, nil
		}
		if err != nil {
			return nothing, err
		}
	}
	for _, t := range tags {
		if !slices.Contains(seg.Tags, t) {
			return nothing, nil
		}
	}
	if err := a.detach(ctx, seg.PV, seg.Offset); err != nil {
		return nothing, err
	}
	return func(removed bool) {
		if removed {
			a.space.remove(seg)
		}
	}, nil
}

func (a *Activator) detach(ctx context.Context, pv string, offset int64) error {
	if dev := a.recalled(pv, offset); dev != "" {
		if err := a.detachDevice(ctx, dev); err != nil {
			return err
		}
		a.forget(pv, offset)
		return nil
	}
	loops, err := a.disks.LoopsBackedBy(ctx, pv)
	if err != nil {
		return err
	}
	for _, l := range loops {
		if l.Offset == offset {
			if err := a.detachDevice(ctx, l.Path); err != nil {
				return err
			}
		}
	}
	a.forget(pv, offset)
	return nil
}

// detachDevice detaches a loop device that nothing holds. The kernel
// detaches a mounted loop device only when it is unmounted (losetup
// --detach succeeds at once), so without this check the LV could be
// removed under a mounted filesystem, whose extents a new volume would
// then share: its unmount would write the old superblock over the new
// volume's.
func (a *Activator) detachDevice(ctx context.Context, dev string) error {
	if err := exclusive(dev); err != nil {
		return err
	}
	if _, err := a.run.Run(ctx, "losetup", "--detach", dev); err != nil {
		return fmt.Errorf("detach %s: %w", dev, err)
	}
	return nil
}

// exclusive fails when dev cannot be opened exclusively: a filesystem on
// it is mounted (or something else holds it so).
func exclusive(dev string) error {
	fd, err := unix.Open(dev, unix.O_RDONLY|unix.O_EXCL|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.EBUSY) {
		return fmt.Errorf("%s is mounted or held", dev)
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", dev, err)
	}
	return unix.Close(fd)
}

// Reconcile makes the loop devices match the LVs: every LV of vgs for which
// want is true gets its device, and loop devices over the PVs of vgs that
// no longer match such an LV (left by a removed or moved LV) are detached.
// It returns the device of each LV by "vg/name"; LVs that cannot be shown
// are absent and their errors joined.
func (a *Activator) Reconcile(ctx context.Context, vgs []string, want func(vg, name string) bool) (map[string]string, error) {
	segs, err := a.segments(ctx)
	if err != nil {
		return nil, err
	}
	inVGs := map[string]bool{}
	for _, vg := range vgs {
		inVGs[vg] = true
	}
	byLV := map[string][]lvm.PVSegment{}
	pvs := map[string]bool{}
	for _, s := range segs {
		if !inVGs[s.VG] {
			continue
		}
		pvs[s.PV] = true
		if s.LV != "" && want(s.VG, s.LV) {
			byLV[s.VG+"/"+s.LV] = append(byLV[s.VG+"/"+s.LV], s)
		}
	}
	// One listing of the loop devices of each PV serves every LV on it
	// (a listing per LV cost a losetup run per volume on every call).
	loopsOf := map[string][]disk.Loop{}
	var errs []error
	for pv := range pvs {
		loops, err := a.disks.LoopsBackedBy(ctx, pv)
		if err != nil {
			errs = append(errs, err)
			delete(pvs, pv)
			continue
		}
		loopsOf[pv] = loops
	}
	out := map[string]string{}
	keep := map[string]bool{} // "pv@offset" of wanted segments
	for key, ss := range byLV {
		if len(ss) != 1 {
			errs = append(errs, fmt.Errorf("%s: %w", key, ErrNotContiguous))
			continue
		}
		seg := ss[0]
		keep[segKey(seg.PV, seg.Offset)] = true
		loops, ok := loopsOf[seg.PV]
		if !ok {
			continue // its listing failed, and said so
		}
		dev, err := a.ensureIn(ctx, seg, loops)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
			continue
		}
		out[key] = dev
	}
	for pv := range pvs {
		for _, l := range loopsOf[pv] {
			// Only partial mappings are this package's; a whole-PV loop is someone else's.
			if l.Offset == 0 && l.SizeLimit == 0 || keep[segKey(pv, l.Offset)] {
				continue
			}
			if _, err := a.run.Run(ctx, "losetup", "--detach", l.Path); err != nil {
				errs = append(errs, fmt.Errorf("detach stale %s: %w", l.Path, err))
				continue
			}
			a.forget(pv, l.Offset)
		}
	}
	return out, errors.Join(errs...)
}

// resize changes the size limit of a live loop device and tells the kernel
// to re-read its capacity; losetup cannot change the size limit of an
// attached device, and detaching it would break its mounts.
func resize(dev string, size int64) error {
	f, err := os.OpenFile(dev, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	fd := int(f.Fd())
	info, err := unix.IoctlLoopGetStatus64(fd)
	if err != nil {
		return fmt.Errorf("get status of %s: %w", dev, err)
	}
	info.Sizelimit = uint64(size)
	if err := unix.IoctlLoopSetStatus64(fd, info); err != nil {
		return fmt.Errorf("set size limit of %s: %w", dev, err)
	}
	if err := unix.IoctlSetInt(fd, unix.LOOP_SET_CAPACITY, 0); err != nil {
		return fmt.Errorf("refresh capacity of %s: %w", dev, err)
	}
	return nil
}
