package disk

import (
	"context"

	"github.com/toposuite/toposuite/lvmd/lvm"
)

// Info is everything known about a device: what lsblk says, the signatures
// on it and whether LVM uses it as a physical volume.
type Info struct {
	Device
	Signatures []Signature `json:"signatures,omitempty"`
	// ProbeError is set when the signatures could not be read; the device
	// is then never considered free.
	ProbeError string `json:"probeError,omitempty"`
	// PV is set when LVM reports the device as a physical volume.
	PV *PVInfo `json:"pv,omitempty"`
}

// PVInfo is a device's LVM membership.
type PVInfo struct {
	// VolumeGroup is empty for a physical volume in no volume group.
	VolumeGroup string `json:"volumeGroup"`
}

// PVLister reports LVM's physical volumes; *lvm.Client is one.
type PVLister interface {
	PVs(ctx context.Context) ([]lvm.PV, error)
}

// PVIndex maps "major:minor" to the physical volume on that device. The
// device number is the identity both lsblk and LVM print, whatever path
// each of them names the device by.
type PVIndex map[string]lvm.PV

// IndexPVs indexes pvs by device number; PVs whose device is missing
// (-1:-1) are left out since no block device can match them.
func IndexPVs(pvs []lvm.PV) PVIndex {
	idx := PVIndex{}
	for _, p := range pvs {
		if p.Major >= 0 && p.Minor >= 0 {
			idx[p.DevNum()] = p
		}
	}
	return idx
}

// Probe completes a device's Info: its signatures (a failure to read them
// is recorded, not returned, so one unreadable disk does not hide the
// others) and its LVM membership from pvs.
func (c *Client) Probe(ctx context.Context, d Device, pvs PVIndex) Info {
	info := Info{Device: d}
	sigs, err := c.Signatures(ctx, d.Path)
	if err != nil {
		info.ProbeError = stderrLine(err)
	}
	info.Signatures = sigs
	if pv, ok := pvs[d.DevNum]; ok {
		info.PV = &PVInfo{VolumeGroup: pv.VG}
	}
	return info
}

// Inspect returns the Info of the device at path.
func (c *Client) Inspect(ctx context.Context, path string, pvs PVIndex) (Info, error) {
	d, err := c.Get(ctx, path)
	if err != nil {
		return Info{}, err
	}
	return c.Probe(ctx, d, pvs), nil
}
