// Package prepare builds the btrfs filesystem that each of btrfsd's pools
// declares (pools[].filesystem) and mounts it at the pool path, so that
// running it again changes nothing:
//
//   - the pool path is a mounted btrfs filesystem of the declared devices:
//     unchanged;
//   - the declared devices hold one btrfs filesystem, all of its devices
//     and only those, not mounted: it is mounted at the pool path;
//   - every declared device is blank, or only carries signatures and is
//     listed under wipe: the listed ones are wiped, mkfs.btrfs makes the
//     filesystem (label topols-<pool>) and it is mounted.
//
// Each time quotas end up on, since btrfsd limits volumes with qgroups.
//
// Devices are refused by the rules lvmd prepare applies too (disk.Decide):
// a filesystem, partition table or other signature unless listed under
// wipe; a mounted or used device, an LVM physical volume, a read-only or
// too small device always. btrfs adds its own: a device of a multi-device
// filesystem whose other devices are not all declared (wiping or mounting
// it would affect them), of a mounted filesystem, or of the pool's own
// filesystem when the declaration no longer matches it. A pool with a
// refused device is left untouched; the other pools are still prepared.
// Devices removed from the declaration are never touched, and prepare
// never adds devices to an existing filesystem.
//
// Mounting is prepare's only: nothing here makes the mount survive a
// reboot. Whatever runs btrfsd (the node plugin, or a systemd unit) runs
// prepare again at boot, which mounts the existing filesystem.
package prepare

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-logr/logr"

	"github.com/toposuite/toposuite/btrfsd/config"
	"github.com/toposuite/toposuite/internal/disk"
	"github.com/toposuite/toposuite/internal/exec"
)

// Options change how Prepare runs.
type Options struct {
	// DryRun inspects and reports without changing anything: nothing is
	// wiped, made, mounted, and quotas are not turned on.
	DryRun bool
}

// Preparer prepares pools.
type Preparer struct {
	disks *disk.Client
	pvs   disk.PVLister
	cmd   commands
	quota Quota
	log   logr.Logger
}

// New returns a Preparer that runs every command through r, asks pvs
// (which may be nil) about LVM physical volumes and turns quotas on with q.
func New(r exec.Runner, pvs disk.PVLister, q Quota, log logr.Logger) *Preparer {
	return &Preparer{disks: disk.New(r), pvs: pvs, cmd: commands{run: r}, quota: q, log: log}
}

// Prepare brings every pool that declares a filesystem to its declaration;
// pools without one are not prepare's. The report is always returned, also
// with an error; the error is only for failures (a command that failed),
// refusals are in the report (Err).
func (p *Preparer) Prepare(ctx context.Context, pools []config.Pool, o Options) (*Report, error) {
	rep := &Report{DryRun: o.DryRun}
	idx := disk.PVIndex{}
	if p.pvs != nil {
		// Without LVM's answer an LVM physical volume is still refused by
		// its signature, only without naming its volume group.
		list, err := p.pvs.PVs(ctx)
		if err != nil {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("cannot list LVM physical volumes, so they are recognized by their signature only: %v", err))
		} else {
			idx = disk.IndexPVs(list)
		}
	}
	claimed := map[string]string{}
	var errs []error
	for _, pool := range pools {
		if pool.Filesystem == nil {
			continue
		}
		r, err := p.preparePool(ctx, pool, o, idx, claimed)
		rep.Pools = append(rep.Pools, r)
		if err != nil {
			errs = append(errs, fmt.Errorf("pool %s: %w", pool.Name, err))
		}
	}
	return rep, errors.Join(errs...)
}

// preparePool inspects, plans and applies one pool. claimed maps the device
// numbers seen so far to where they were declared, across pools, so that
// one disk declared under two names is caught.
func (p *Preparer) preparePool(ctx context.Context, pool config.Pool, o Options, idx disk.PVIndex, claimed map[string]string) (PoolReport, error) {
	r := PoolReport{Name: pool.Name, Path: pool.Path}
	var devs []*device
	fail := func(err error) (PoolReport, error) {
		r.Result, r.Error = ResultFailed, err.Error()
		r.Devices = append(reports(devs), r.Devices...)
		return r, err
	}
	devs, err := p.inspectDevices(ctx, pool, idx, claimed)
	if err != nil {
		return fail(err)
	}
	st, err := p.inspectState(ctx, pool, devs)
	if err != nil {
		return fail(err)
	}
	pl := plan(pool, devs, st)
	r.Devices = pl.left
	if pl.fs != nil {
		r.UUID, r.Label = pl.fs.UUID, pl.fs.Label
	}
	if err := p.apply(ctx, pool, devs, pl, o, &r); err != nil {
		return fail(err)
	}
	r.Devices = append(reports(devs), r.Devices...)
	return r, nil
}

func reports(devs []*device) []DeviceReport {
	out := make([]DeviceReport, 0, len(devs))
	for _, d := range devs {
		out = append(out, d.report)
	}
	return out
}
