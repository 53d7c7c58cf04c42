package agent

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"

	"golang.org/x/sys/unix"

	"github.com/toposuite/toposuite/internal/disk"
	"github.com/toposuite/toposuite/internal/exec"
	"github.com/toposuite/toposuite/internal/operator/report"
	"github.com/toposuite/toposuite/lvmd/lvm"
)

// Sources say where the collector looks.
type Sources struct {
	// HostRoot is the host's root directory as the agent sees it:
	// /proc/1/root in a pod with hostPID, / on the host itself. Prepare
	// reports, pool paths, /sys and /dev/disk/by-id are read under it.
	HostRoot string
	// LVMDPrepareReport and BtrfsdPrepareReport are the host paths of the
	// prepare reports (--report-file); a missing file means prepare did
	// not run on the node.
	LVMDPrepareReport, BtrfsdPrepareReport string
	// Criteria say which devices discovery counts as free.
	Criteria disk.Criteria
}

// Collector finds out what a node has.
type Collector struct {
	disk    *disk.Client
	lvm     *lvm.Client
	sources Sources
	// statfs measures a pool; unix.Statfs but for tests.
	statfs func(path string, st *unix.Statfs_t) error
}

// NewCollector returns a collector that runs lsblk, wipefs and lvm (at
// lvmPath) through r, which carries the nsenter prefix into the host.
func NewCollector(r exec.Runner, lvmPath string, s Sources) *Collector {
	if s.HostRoot == "" {
		s.HostRoot = "/"
	}
	return &Collector{disk: disk.New(r), lvm: lvm.New(r, lvmPath), sources: s, statfs: unix.Statfs}
}

// host returns path under the host's root.
func (c *Collector) host(path string) string { return filepath.Join(c.sources.HostRoot, path) }

// Collect makes node's report. What cannot be found out goes into the
// report's Errors; Collect itself fails only when ctx ends.
func (c *Collector) Collect(ctx context.Context, node string) (report.NodeReport, error) {
	r := report.NodeReport{Node: node}
	prep := readPrepared(c.hostOrEmpty(c.sources.LVMDPrepareReport), c.hostOrEmpty(c.sources.BtrfsdPrepareReport))
	r.Errors = append(r.Errors, prep.errors...)

	inv, err := c.disk.Discover(ctx, c.sources.Criteria, c.lvm)
	if ctx.Err() != nil {
		return report.NodeReport{}, ctx.Err()
	}
	if err != nil {
		r.Errors = append(r.Errors, fmt.Sprintf("discover devices: %v", err))
	}
	r.Errors = append(r.Errors, inv.Warnings...)
	byID := c.byID()
	for _, d := range inv.Devices {
		if d.Free {
			r.Discovered = append(r.Discovered, report.Device{Path: d.Path, Model: d.Model, Serial: d.Serial, Size: d.Size,
				Rotational: c.rotational(d.Device), ByID: byID[d.Path]})
		}
	}

	vgs, err := c.volumeGroups(ctx, prep)
	if ctx.Err() != nil {
		return report.NodeReport{}, ctx.Err()
	}
	if err != nil {
		r.Errors = append(r.Errors, err.Error())
	}
	r.VolumeGroups = vgs

	for _, p := range prep.pools {
		if p.Devices != nil {
			// The filesystem exists: measure it where it is mounted.
			var st unix.Statfs_t
			if err := c.statfs(c.host(p.Path), &st); err != nil {
				r.Errors = append(r.Errors, fmt.Sprintf("pool %s: statfs %s: %v", p.Name, p.Path, err))
			} else {
				p.Size, p.Free = int64(st.Blocks)*st.Bsize, int64(st.Bavail)*st.Bsize
			}
		}
		r.Pools = append(r.Pools, p)
	}
	return r, nil
}

// volumeGroups lists every volume group of the node with its physical
// volumes, and the ones prepare was asked for but could not create, each
// with the devices prepare refused.
func (c *Collector) volumeGroups(ctx context.Context, prep prepared) ([]report.VolumeGroup, error) {
	vgs, err := c.lvm.VGs(ctx)
	if err != nil {
		return missingVGs(nil, prep), fmt.Errorf("list volume groups: %w", err)
	}
	pvs, err := c.lvm.PVs(ctx)
	if err != nil {
		return missingVGs(nil, prep), fmt.Errorf("list physical volumes: %w", err)
	}
	devices := map[string][]string{}
	for _, pv := range pvs {
		if pv.VG != "" {
			devices[pv.VG] = append(devices[pv.VG], pv.Name)
		}
	}
	out := make([]report.VolumeGroup, 0, len(vgs))
	for _, vg := range vgs {
		sort.Strings(devices[vg.Name])
		out = append(out, report.VolumeGroup{Name: vg.Name, Size: vg.Size, Free: vg.Free,
			Devices: devices[vg.Name], Refused: prep.vgRefused[vg.Name]})
	}
	return missingVGs(out, prep), nil
}

// missingVGs adds the declared volume groups that do not exist, with their
// refusals and no size.
func missingVGs(vgs []report.VolumeGroup, prep prepared) []report.VolumeGroup {
	have := map[string]bool{}
	for _, vg := range vgs {
		have[vg.Name] = true
	}
	for _, name := range prep.vgDeclared {
		if !have[name] {
			have[name] = true
			vgs = append(vgs, report.VolumeGroup{Name: name, Refused: prep.vgRefused[name]})
		}
	}
	return vgs
}

func (c *Collector) hostOrEmpty(path string) string {
	if path == "" {
		return ""
	}
	return c.host(path)
}
