package disk

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/toposuite/toposuite/internal/exec"
)

// Status is a device, what is known about it and whether it is free.
type Status struct {
	Info
	Free    bool     `json:"free"`
	Reasons []Reason `json:"reasons,omitempty"`
}

// Inventory is what Discover found.
type Inventory struct {
	Devices []Status `json:"devices"`
	// Warnings say what could not be found out for all devices, e.g. that
	// LVM could not be asked about physical volumes.
	Warnings []string `json:"warnings,omitempty"`
}

// Discover lists the node's block devices and assesses each under c. pvs
// may be nil; when it fails, devices with an LVM signature are still
// reported as physical volumes, only without their volume group, and the
// failure is a warning.
func (c *Client) Discover(ctx context.Context, crit Criteria, pvs PVLister) (Inventory, error) {
	devs, err := c.List(ctx)
	if err != nil {
		return Inventory{}, err
	}
	var inv Inventory
	idx := PVIndex{}
	if pvs != nil {
		list, err := pvs.PVs(ctx)
		if err != nil {
			inv.Warnings = append(inv.Warnings, fmt.Sprintf("cannot list LVM physical volumes: %v", err))
		} else {
			idx = IndexPVs(list)
		}
	}
	for _, d := range devs {
		if d.Type == "loop" && d.Size == 0 {
			// A loop device node with no file attached is not a disk.
			continue
		}
		var info Info
		if d.Size == 0 || d.Type == "rom" {
			// Nothing to read, or a drive that would spin up a disc for it.
			info = Info{Device: d}
			if pv, ok := idx[d.DevNum]; ok {
				info.PV = &PVInfo{VolumeGroup: pv.VG}
			}
		} else {
			info = c.Probe(ctx, d, idx)
		}
		if err := ctx.Err(); err != nil {
			return Inventory{}, err
		}
		reasons := Assess(info, crit)
		inv.Devices = append(inv.Devices, Status{Info: info, Free: len(reasons) == 0, Reasons: reasons})
	}
	return inv, nil
}

// stderrLine returns what a failed command said, without the command line
// (it is always the same probe), or the error text.
func stderrLine(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if msg := strings.TrimSpace(string(ee.Stderr)); msg != "" {
			lines := strings.Split(msg, "\n")
			return strings.TrimSpace(lines[len(lines)-1])
		}
	}
	return err.Error()
}
