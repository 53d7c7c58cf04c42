// Package prepare builds the volume groups that lvmd's configuration
// declares (volumeGroups) from block devices and, for development, loop
// files, and the thin pool declared in each: it creates a missing volume
// group or pool, extends an existing volume group with newly declared
// devices and leaves what is already right alone, so that running it again
// changes nothing. An existing pool of another size is reported, never
// resized.
//
// It refuses, with the reason, any device that is not blank (a filesystem,
// a partition table or another signature), is mounted or used by another
// device, is a physical volume of another volume group, is read-only or is
// smaller than the minimum size. Signatures are erased only on devices the
// configuration lists under wipe, and never on a device that is mounted or
// belongs to another volume group. A device removed from the declaration
// is reported and left in the volume group: removing it (vgreduce) could
// lose data, so that stays a decision for a person.
package prepare

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-logr/logr"

	"github.com/toposuite/toposuite/internal/disk"
	"github.com/toposuite/toposuite/lvmd/config"
	"github.com/toposuite/toposuite/lvmd/lvm"
)

// Options change how Prepare runs.
type Options struct {
	// DryRun inspects and reports without changing anything: no file is
	// created, no loop device attached, nothing wiped or created.
	DryRun bool
}

// Preparer prepares volume groups.
type Preparer struct {
	disks *disk.Client
	lvm   *lvm.Client
	log   logr.Logger
}

// New returns a Preparer that inspects and changes devices through disks
// and runs LVM through l. Both should use the same runner, so that a
// command prefix applies to every command alike.
func New(disks *disk.Client, l *lvm.Client, log logr.Logger) *Preparer {
	return &Preparer{disks: disks, lvm: l, log: log}
}

// Prepare brings every declared volume group to its declaration. The
// report is always returned, also with an error; the error is only for
// failures (a command that failed), refusals are in the report (Err).
// A volume group with a refused device is left unchanged, and the others
// are still prepared.
func (p *Preparer) Prepare(ctx context.Context, vgs []config.VolumeGroup, o Options) (*Report, error) {
	rep := &Report{DryRun: o.DryRun}
	claimed := map[string]string{}
	var errs []error
	for _, vg := range vgs {
		r, err := p.prepareVG(ctx, vg, o, claimed)
		if err != nil {
			errs = append(errs, fmt.Errorf("volume group %s: %w", vg.Name, err))
		}
		if vg.ThinPool != nil {
			r.ThinPool, err = p.preparePool(ctx, vg, r.Result, o.DryRun)
			if err != nil {
				errs = append(errs, fmt.Errorf("volume group %s: %w", vg.Name, err))
			}
		}
		rep.VolumeGroups = append(rep.VolumeGroups, r)
	}
	return rep, errors.Join(errs...)
}

// candidate is one declared device on its way through prepareVG.
type candidate struct {
	report DeviceReport
	// path is what LVM and wipefs get: the declared path (an administrator's
	// LVM filter may be written for it) or the loop file's device.
	path string
	wipe bool
	info disk.Info
}

// prepareVG plans and applies one volume group. claimed maps the device
// numbers seen so far to where they were declared, across volume groups,
// so that one disk declared under two names is caught.
func (p *Preparer) prepareVG(ctx context.Context, vg config.VolumeGroup, o Options, claimed map[string]string) (VGReport, error) {
	r := VGReport{Name: vg.Name}
	var cands []*candidate
	fail := func(err error) (VGReport, error) {
		r.Result, r.Error = ResultFailed, err.Error()
		r.Devices = append(reports(cands), r.Devices...)
		return r, err
	}
	wipe := map[string]bool{}
	for _, w := range vg.Wipe {
		wipe[w] = true
	}
	for _, d := range vg.Devices {
		cands = append(cands, &candidate{report: DeviceReport{Device: d}, path: d, wipe: wipe[d]})
	}
	for _, lf := range vg.LoopFiles {
		a, err := p.AttachLoopFile(ctx, lf, o.DryRun)
		if err != nil {
			return fail(err)
		}
		cands = append(cands, &candidate{
			report: DeviceReport{Device: a.Device, LoopFile: lf.Path, Loop: a.State},
			path:   a.Device, wipe: wipe[lf.Path],
		})
	}

	exists, err := p.lvm.VGExists(ctx, vg.Name)
	if err != nil {
		return fail(err)
	}
	pvs, err := p.lvm.PVs(ctx)
	if err != nil {
		return fail(err)
	}
	idx := disk.IndexPVs(pvs)
	var minSize int64
	if vg.MinDeviceSize != nil {
		minSize = vg.MinDeviceSize.Value()
	}
	declared := map[string]bool{}
	for _, c := range cands {
		if err := p.plan(ctx, c, vg, idx, minSize, claimed, declared); err != nil {
			return fail(err)
		}
	}
	for _, pv := range pvs {
		if pv.VG == vg.Name && !declared[pv.DevNum()] {
			r.Devices = append(r.Devices, DeviceReport{
				Device: pv.Name, Action: ActionLeaveInPlace,
				Reason: "in the volume group but no longer declared; left in place (remove it with vgreduce if that is what you want)",
			})
		}
	}

	var refused, keep int
	left := len(r.Devices)
	var add []*candidate
	for _, c := range cands {
		switch a := c.report.Action; {
		case a == ActionRefuse:
			refused++
		case a == ActionKeep:
			keep++
		case a.changes():
			add = append(add, c)
		}
	}
	switch {
	case refused > 0:
		r.Result = ResultRefused
		r.Message = fmt.Sprintf("nothing changed: %d of %s refused", refused, count(len(cands), "declared device"))
	case len(add) == 0:
		r.Result = ResultUnchanged
		r.Message = fmt.Sprintf("every declared device is a physical volume of the volume group already (%s)", count(keep, "device"))
		if left > 0 {
			r.Message += fmt.Sprintf("; %s no longer declared left in place", count(left, "device"))
		}
	case o.DryRun && exists:
		r.Result, r.Message = ResultWouldExtend, "would add "+count(len(add), "device")
	case o.DryRun:
		r.Result, r.Message = ResultWouldCreate, "would create it from "+count(len(add), "device")
	default:
		if err := p.apply(ctx, vg.Name, exists, add); err != nil {
			return fail(err)
		}
		if exists {
			r.Result, r.Message = ResultExtended, "added "+count(len(add), "device")
		} else {
			r.Result, r.Message = ResultCreated, "created from "+count(len(add), "device")
		}
	}
	r.Devices = append(reports(cands), r.Devices...)
	return r, nil
}

// plan inspects one candidate and records the decision in its report.
func (p *Preparer) plan(ctx context.Context, c *candidate, vg config.VolumeGroup, idx disk.PVIndex, minSize int64,
	claimed map[string]string, declared map[string]bool) error {
	if c.path == "" {
		c.report.Action = ActionAttach
		c.report.Reason = "dry run: the loop file is not attached; its device is checked once it is"
		return nil
	}
	info, refusal, err := p.disks.InspectDeclared(ctx, c.path, "volume group "+vg.Name, idx, claimed)
	if err != nil {
		return err
	}
	c.info = info
	if info.DevNum != "" {
		declared[info.DevNum] = true
	}
	if refusal != "" {
		c.report.Action, c.report.Reason = ActionRefuse, refusal
		return nil
	}
	d := decide(info, vg.Name, c.wipe, minSize)
	c.report.Action, c.report.Reason, c.report.Problems, c.report.Wiped = d.action, d.reason, d.problems, d.wiped
	return nil
}

// apply wipes, makes physical volumes and creates or extends the volume
// group. pvcreate runs on its own, before vgcreate or vgextend, so that a
// failure names the device rather than the volume group.
func (p *Preparer) apply(ctx context.Context, vg string, exists bool, add []*candidate) error {
	var paths, newPVs []string
	for _, c := range add {
		paths = append(paths, c.path)
		if c.report.Action == ActionWipeAndAdd {
			p.log.Info("wiping signatures", "volumeGroup", vg, "device", c.path, "signatures", c.report.Wiped)
			if err := p.disks.Wipe(ctx, c.path); err != nil {
				return err
			}
		}
		// An orphan PV joins as it is; a wiped one lost its PV header.
		if c.info.PV == nil || c.report.Action == ActionWipeAndAdd {
			newPVs = append(newPVs, c.path)
		}
	}
	if len(newPVs) > 0 {
		p.log.Info("creating physical volumes", "volumeGroup", vg, "devices", newPVs)
		if err := p.lvm.PVCreate(ctx, newPVs...); err != nil {
			return fmt.Errorf("pvcreate: %w", err)
		}
	}
	if exists {
		p.log.Info("extending volume group", "volumeGroup", vg, "devices", paths)
		if err := p.lvm.VGExtend(ctx, vg, paths...); err != nil {
			return fmt.Errorf("vgextend: %w", err)
		}
		return nil
	}
	p.log.Info("creating volume group", "volumeGroup", vg, "devices", paths)
	if err := p.lvm.VGCreate(ctx, vg, paths...); err != nil {
		return fmt.Errorf("vgcreate: %w", err)
	}
	return nil
}

func reports(cands []*candidate) []DeviceReport {
	out := make([]DeviceReport, 0, len(cands))
	for _, c := range cands {
		out = append(out, c.report)
	}
	return out
}

// count renders "1 device" or "2 devices".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
