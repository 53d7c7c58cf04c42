package prepare

import (
	"context"
	"fmt"

	"github.com/toposuite/toposuite/btrfsd/config"
)

// apply carries out a pool's plan (in a dry run, only says what it would
// do) and records the outcome in r.
func (p *Preparer) apply(ctx context.Context, pool config.Pool, devs []*device, pl poolPlan, o Options, r *PoolReport) error {
	switch pl.step {
	case stepRefuse:
		r.Result = ResultRefused
		if pl.reason != "" {
			r.Reason = pl.reason
			r.Message = "nothing changed: the pool path " + pl.reason
			return nil
		}
		refused := 0
		for _, d := range devs {
			if d.report.Action == ActionRefuse {
				refused++
			}
		}
		r.Message = fmt.Sprintf("nothing changed: %d of %s refused", refused, count(len(devs), "declared device"))
		return nil

	case stepNothing:
		r.Result = ResultUnchanged
		r.Message = fmt.Sprintf("the btrfs filesystem of %s is mounted at %s already", count(len(devs), "declared device"), pool.Path)
		if len(pl.left) > 0 {
			r.Message += fmt.Sprintf("; %s no longer declared left in place", count(len(pl.left), "device"))
		}
		return p.ensureQuota(ctx, pool, pl.fs.UUID, o, r)

	case stepMount:
		if o.DryRun {
			r.Result = ResultWouldMount
			r.Message = fmt.Sprintf("would mount the existing btrfs filesystem of %s at %s", count(len(devs), "device"), pool.Path)
			return nil
		}
		if err := p.mount(ctx, pool, devs); err != nil {
			return err
		}
		r.Result = ResultMounted
		r.Message = fmt.Sprintf("mounted the existing btrfs filesystem of %s at %s", count(len(devs), "device"), pool.Path)
		return p.ensureQuota(ctx, pool, pl.fs.UUID, o, r)

	case stepCreate:
		what := fmt.Sprintf("a btrfs filesystem of %s%s", count(len(devs), "device"), profiles(pool.Filesystem))
		if o.DryRun {
			r.Result, r.Label, r.QuotaEnabled = ResultWouldCreate, Label(pool.Name), true
			r.Message = fmt.Sprintf("would make %s, mount it at %s and turn quotas on", what, pool.Path)
			return nil
		}
		if err := p.create(ctx, pool, devs, r); err != nil {
			return err
		}
		r.Result = ResultCreated
		r.Message = fmt.Sprintf("made %s, mounted it at %s and turned quotas on", what, pool.Path)
		return nil
	}
	return fmt.Errorf("unknown plan step %d", pl.step)
}

// create wipes the devices listed for it, makes the filesystem, mounts it
// and turns quotas on: on a new, empty filesystem that costs nothing.
func (p *Preparer) create(ctx context.Context, pool config.Pool, devs []*device, r *PoolReport) error {
	var paths []string
	for _, d := range devs {
		paths = append(paths, d.path)
		if d.report.Action == ActionWipeAndUse {
			p.log.Info("wiping signatures", "pool", pool.Name, "device", d.path, "signatures", d.report.Wiped)
			if err := p.disks.Wipe(ctx, d.path); err != nil {
				return err
			}
		}
	}
	fs := pool.Filesystem
	p.log.Info("making btrfs filesystem", "pool", pool.Name, "devices", paths, "label", Label(pool.Name),
		"dataProfile", fs.DataProfile, "metadataProfile", fs.MetadataProfile)
	if err := p.cmd.mkfs(ctx, Label(pool.Name), fs.DataProfile, fs.MetadataProfile, paths); err != nil {
		return err
	}
	if err := p.mount(ctx, pool, devs); err != nil {
		return err
	}
	// The new filesystem's UUID, for the report, from the kernel's view of
	// what is now mounted at the path.
	fss, err := p.cmd.showFilesystems(ctx, pool.Path)
	if err != nil {
		return err
	}
	if len(fss) != 1 || fss[0].Label != Label(pool.Name) {
		return fmt.Errorf("after mounting, btrfs filesystem show %s lists %+v, not the filesystem labelled %s", pool.Path, fss, Label(pool.Name))
	}
	r.UUID, r.Label = fss[0].UUID, fss[0].Label
	p.log.Info("enabling quotas", "pool", pool.Name, "path", pool.Path, "uuid", r.UUID)
	if err := p.quota.Enable(ctx, pool.Path); err != nil {
		return fmt.Errorf("enable quotas on %s: %w", pool.Path, err)
	}
	r.QuotaEnabled = true
	return nil
}

// mount creates the pool path and mounts the pool's devices there.
func (p *Preparer) mount(ctx context.Context, pool config.Pool, devs []*device) error {
	var paths []string
	for _, d := range devs {
		paths = append(paths, d.path)
	}
	if err := p.cmd.mkdirAll(ctx, pool.Path); err != nil {
		return err
	}
	p.log.Info("mounting btrfs filesystem", "pool", pool.Name, "path", pool.Path, "devices", paths, "options", pool.Filesystem.MountOptions)
	return p.cmd.mount(ctx, paths, pool.Path, pool.Filesystem.MountOptions)
}

// ensureQuota turns quotas on when they are off on the pool's mounted
// filesystem: a creation cut short after mounting would otherwise leave a
// pool btrfsd refuses to serve, and the next run would not see it.
func (p *Preparer) ensureQuota(ctx context.Context, pool config.Pool, fsid string, o Options, r *PoolReport) error {
	on, err := p.quota.Enabled(ctx, fsid)
	if err != nil {
		return fmt.Errorf("read whether quotas are on for %s: %w", fsid, err)
	}
	if on {
		return nil
	}
	r.QuotaEnabled = true
	if o.DryRun {
		r.Message += "; quotas are off: would turn them on"
		return nil
	}
	p.log.Info("enabling quotas", "pool", pool.Name, "path", pool.Path, "uuid", fsid)
	if err := p.quota.Enable(ctx, pool.Path); err != nil {
		return fmt.Errorf("enable quotas on %s: %w", pool.Path, err)
	}
	r.Message += "; quotas were off: turned them on"
	return nil
}

// profiles renders the declared profiles for messages.
func profiles(fs *config.Filesystem) string {
	switch {
	case fs.DataProfile != "" && fs.MetadataProfile != "":
		return fmt.Sprintf(" (data %s, metadata %s)", fs.DataProfile, fs.MetadataProfile)
	case fs.DataProfile != "":
		return fmt.Sprintf(" (data %s)", fs.DataProfile)
	case fs.MetadataProfile != "":
		return fmt.Sprintf(" (metadata %s)", fs.MetadataProfile)
	}
	return ""
}
