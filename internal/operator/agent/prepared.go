package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	btrfsprepare "github.com/toposuite/toposuite/btrfsd/prepare"
	"github.com/toposuite/toposuite/internal/operator/report"
	lvmprepare "github.com/toposuite/toposuite/lvmd/prepare"
)

// prepared is what the last prepare runs on the node left: refusals per
// volume group and per pool, the pools, and failures.
type prepared struct {
	vgRefused map[string][]report.Refusal
	// vgDeclared are the volume groups lvmd prepare was asked for, in order;
	// one not created yet (all its devices refused) is still reported.
	vgDeclared []string
	pools      []report.Pool
	errors     []string
}

// readPrepared reads lvmd's and btrfsd's prepare reports; a path that is
// empty or names no file means that prepare did not run there.
func readPrepared(lvmdFile, btrfsdFile string) prepared {
	p := prepared{vgRefused: map[string][]report.Refusal{}}
	var lr lvmprepare.Report
	if ok, err := readJSON(lvmdFile, &lr); err != nil {
		p.errors = append(p.errors, err.Error())
	} else if ok {
		p.addLVM(&lr)
	}
	var br btrfsprepare.Report
	if ok, err := readJSON(btrfsdFile, &br); err != nil {
		p.errors = append(p.errors, err.Error())
	} else if ok {
		p.addBtrfs(&br)
	}
	return p
}

func (p *prepared) addLVM(r *lvmprepare.Report) {
	for _, vg := range r.VolumeGroups {
		p.vgDeclared = append(p.vgDeclared, vg.Name)
		for _, d := range vg.Devices {
			if d.Action == lvmprepare.ActionRefuse {
				dev := d.Device
				if dev == "" {
					dev = d.LoopFile
				}
				p.vgRefused[vg.Name] = append(p.vgRefused[vg.Name], report.Refusal{Device: dev, Reason: d.Reason})
			}
		}
		if vg.Error != "" {
			p.errors = append(p.errors, fmt.Sprintf("lvmd prepare: volume group %s: %s", vg.Name, vg.Error))
		}
	}
}

func (p *prepared) addBtrfs(r *btrfsprepare.Report) {
	for _, pr := range r.Pools {
		pool := report.Pool{Name: pr.Name, Path: pr.Path}
		if pr.Reason != "" {
			pool.Refused = append(pool.Refused, report.Refusal{Device: pr.Path, Reason: pr.Reason})
		}
		built := pr.Result == btrfsprepare.ResultCreated || pr.Result == btrfsprepare.ResultMounted || pr.Result == btrfsprepare.ResultUnchanged
		for _, d := range pr.Devices {
			switch {
			case d.Action == btrfsprepare.ActionRefuse:
				pool.Refused = append(pool.Refused, report.Refusal{Device: d.Device, Reason: d.Reason})
			case built:
				// Only a filesystem that exists has devices.
				pool.Devices = append(pool.Devices, d.Device)
			}
		}
		if pr.Error != "" {
			p.errors = append(p.errors, fmt.Sprintf("btrfsd prepare: pool %s: %s", pr.Name, pr.Error))
		}
		p.pools = append(p.pools, pool)
	}
	for _, w := range r.Warnings {
		p.errors = append(p.errors, "btrfsd prepare: "+w)
	}
}

// readJSON decodes path into v; false when there is no such file.
func readJSON(path string, v any) (bool, error) {
	if path == "" {
		return false, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read prepare report: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("prepare report %s: %w", path, err)
	}
	return true, nil
}
