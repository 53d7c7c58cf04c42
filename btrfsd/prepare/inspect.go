package prepare

import (
	"context"
	"fmt"

	"github.com/toposuite/toposuite/btrfsd/config"
	"github.com/toposuite/toposuite/internal/disk"
)

// device is one declared device on its way through preparePool.
type device struct {
	report DeviceReport
	// path is the declared path: what mkfs.btrfs, mount and wipefs get.
	path string
	wipe bool
	// ok says info was read and the device is not refused already (it
	// does not exist, or was declared twice).
	ok   bool
	info disk.Info
}

// inspectDevices reads what each declared device is and holds.
func (p *Preparer) inspectDevices(ctx context.Context, pool config.Pool, idx disk.PVIndex, claimed map[string]string) ([]*device, error) {
	wipe := map[string]bool{}
	for _, w := range pool.Filesystem.Wipe {
		wipe[w] = true
	}
	var devs []*device
	for _, path := range pool.Filesystem.Devices {
		d := &device{report: DeviceReport{Device: path}, path: path, wipe: wipe[path]}
		devs = append(devs, d)
		info, refusal, err := p.disks.InspectDeclared(ctx, path, "pool "+pool.Name, idx, claimed)
		if err != nil {
			return devs, err
		}
		if refusal != "" {
			d.report.Action, d.report.Reason = ActionRefuse, refusal
			continue
		}
		d.info, d.ok = info, true
	}
	return devs, nil
}

// state is what prepare found out about a pool's filesystem.
type state struct {
	// mount is what is mounted at the pool path; nil when nothing is.
	mount *Mount
	// atPath is the btrfs filesystem mounted at the pool path.
	atPath *Filesystem
	// known are the btrfs filesystems on the node's devices by UUID, and
	// mounted the UUIDs of those mounted somewhere. Both are only read
	// when the path is not a btrfs mount and a declared device holds btrfs.
	known   map[string]Filesystem
	mounted map[string]bool
}

func (p *Preparer) inspectState(ctx context.Context, pool config.Pool, devs []*device) (state, error) {
	var st state
	var err error
	if st.mount, err = p.cmd.findMount(ctx, pool.Path); err != nil {
		return st, err
	}
	if st.mount != nil && st.mount.FSType == typeBtrfs {
		fss, err := p.cmd.showFilesystems(ctx, pool.Path)
		if err != nil {
			return st, err
		}
		if len(fss) != 1 {
			return st, fmt.Errorf("btrfs filesystem show %s listed %d filesystems, want 1", pool.Path, len(fss))
		}
		st.atPath = &fss[0]
		return st, nil
	}
	if !anyBtrfs(devs) {
		return st, nil
	}
	mounted, err := p.cmd.showFilesystems(ctx, "--mounted")
	if err != nil {
		return st, err
	}
	all, err := p.cmd.showFilesystems(ctx)
	if err != nil {
		return st, err
	}
	st.known, st.mounted = map[string]Filesystem{}, map[string]bool{}
	for _, fs := range all {
		st.known[fs.UUID] = fs
	}
	for _, fs := range mounted {
		st.mounted[fs.UUID] = true
		st.known[fs.UUID] = fs
	}
	return st, nil
}
