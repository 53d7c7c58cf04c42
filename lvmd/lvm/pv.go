package lvm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/toposuite/toposuite/internal/storage"
)

// PV is a physical volume as `pvs` reports it. VG is empty for a PV that
// belongs to no volume group (an orphan).
type PV struct {
	Name string
	VG   string
	UUID string
	Size int64
	// Major and Minor identify the device; they are how a PV is matched to
	// a block device whatever path LVM or the caller uses for it. Both are
	// -1 for a PV whose device is missing.
	Major int
	Minor int
}

// DevNum returns "major:minor", the form lsblk prints in MAJ:MIN.
func (p PV) DevNum() string { return fmt.Sprintf("%d:%d", p.Major, p.Minor) }

const pvFields = "pv_name,vg_name,pv_uuid,pv_size,pv_major,pv_minor"

type jsonPVReport struct {
	Report []struct {
		PV []jsonPV `json:"pv"`
	} `json:"report"`
}

type jsonPV struct {
	Name  string `json:"pv_name"`
	VG    string `json:"vg_name"`
	UUID  string `json:"pv_uuid"`
	Size  string `json:"pv_size"`
	Major string `json:"pv_major"`
	Minor string `json:"pv_minor"`
}

// ParsePVReport parses the stdout of `pvs -o pv_name,vg_name,pv_uuid,pv_size,
// pv_major,pv_minor --reportformat json --units b --nosuffix`.
func ParsePVReport(out []byte) ([]PV, error) {
	var jr jsonPVReport
	if err := json.Unmarshal(out, &jr); err != nil {
		return nil, fmt.Errorf("parse LVM PV report: %w", err)
	}
	var pvs []PV
	for _, sec := range jr.Report {
		for _, p := range sec.PV {
			pv, err := p.parse()
			if err != nil {
				return nil, err
			}
			pvs = append(pvs, pv)
		}
	}
	return pvs, nil
}

func (p jsonPV) parse() (PV, error) {
	if p.Name == "" {
		return PV{}, fmt.Errorf("parse LVM PV report: physical volume without a name")
	}
	pv := PV{Name: p.Name, VG: p.VG, UUID: p.UUID}
	var err error
	if pv.Size, err = parseBytes("pv_size", p.Size); err != nil {
		return PV{}, err
	}
	if pv.Major, err = parseDevNum("pv_major", p.Major); err != nil {
		return PV{}, err
	}
	if pv.Minor, err = parseDevNum("pv_minor", p.Minor); err != nil {
		return PV{}, err
	}
	return pv, nil
}

// parseDevNum reads a device number; LVM prints -1 for a missing device.
func parseDevNum(field, s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < -1 {
		return 0, fmt.Errorf("parse LVM PV report: %s %q is not a device number", field, s)
	}
	return n, nil
}

// PVs returns every physical volume LVM's configuration lets it see.
func (c *Client) PVs(ctx context.Context) ([]PV, error) {
	args := append([]string{"pvs", "-o", pvFields}, reportArgs...)
	res, err := c.lvm(ctx, args...)
	if err != nil {
		return nil, err
	}
	return ParsePVReport(res.Stdout)
}

// PVCreate makes physical volumes of devs. It never passes -y: if a device
// carries a signature after all, pvcreate asks whether to wipe it, reads no
// answer (stdin is not a terminal) and refuses, which is the safe outcome.
func (c *Client) PVCreate(ctx context.Context, devs ...string) error {
	if len(devs) == 0 {
		return nil
	}
	_, err := c.lvm(ctx, append([]string{"pvcreate"}, devs...)...)
	return err
}

// VGCreate creates volume group name on devs (physical volumes already, or
// blank devices that vgcreate initialises).
func (c *Client) VGCreate(ctx context.Context, name string, devs ...string) error {
	if len(devs) == 0 {
		return storage.Errorf(storage.ErrInvalid, "vgcreate %s: no devices", name)
	}
	_, err := c.lvm(ctx, append([]string{"vgcreate", name}, devs...)...)
	return err
}

// VGExtend adds devs to volume group name.
func (c *Client) VGExtend(ctx context.Context, name string, devs ...string) error {
	if len(devs) == 0 {
		return nil
	}
	_, err := c.lvm(ctx, append([]string{"vgextend", name}, devs...)...)
	return err
}

// VGExists reports whether LVM knows volume group name.
func (c *Client) VGExists(ctx context.Context, name string) (bool, error) {
	vgs, err := c.VGs(ctx, name)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return false, nil
		}
		return false, err
	}
	for _, vg := range vgs {
		if vg.Name == name {
			return true, nil
		}
	}
	return false, nil
}
