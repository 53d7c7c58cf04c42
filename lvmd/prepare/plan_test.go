package prepare

import (
	"testing"

	"github.com/toposuite/toposuite/internal/disk"
)

func TestDecide(t *testing.T) {
	dev := disk.Device{Path: "/dev/sdb", DevNum: "8:16", Type: "disk", Size: 100 << 30}
	lvm2 := disk.Signature{Type: disk.TypeLVM2Member, Usage: disk.UsageRAID}
	ext4 := disk.Signature{Type: "ext4", Usage: disk.UsageFilesystem}
	for _, tc := range []struct {
		name string
		info disk.Info
		wipe bool
		want Action
	}{
		{"blank", disk.Info{Device: dev}, false, ActionAdd},
		// A member of the VG stays whatever is built on it (its LVs).
		{"member with LVs", disk.Info{Device: withChildren(dev, disk.Child{Path: "/dev/mapper/vg1-a", Type: "lvm", MountPoints: []string{"/data"}}),
			Signatures: []disk.Signature{lvm2}, PV: &disk.PVInfo{VolumeGroup: "vg1"}}, false, ActionKeep},
		{"orphan PV", disk.Info{Device: dev, Signatures: []disk.Signature{lvm2}, PV: &disk.PVInfo{}}, false, ActionAdd},
		{"orphan PV listed under wipe", disk.Info{Device: dev, Signatures: []disk.Signature{lvm2}, PV: &disk.PVInfo{}}, true, ActionAdd},
		{"filesystem", disk.Info{Device: dev, Signatures: []disk.Signature{ext4}}, false, ActionRefuse},
		{"filesystem listed under wipe", disk.Info{Device: dev, Signatures: []disk.Signature{ext4}}, true, ActionWipeAndAdd},
		{"unreadable listed under wipe", disk.Info{Device: dev, ProbeError: "Operation not permitted"}, true, ActionRefuse},
		{"held by dm listed under wipe", disk.Info{Device: withChildren(dev, disk.Child{Path: "/dev/dm-3", Type: "crypt"})}, true, ActionRefuse},
		// Declared loop devices are what the administrator asked for.
		{"loop device", disk.Info{Device: disk.Device{Path: "/dev/loop9", Type: "loop", Size: 100 << 30}}, false, ActionAdd},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := decide(tc.info, "vg1", tc.wipe, 1<<30)
			if d.action != tc.want {
				t.Errorf("action = %s (%s), want %s", d.action, d.reason, tc.want)
			}
		})
	}
}

func withChildren(d disk.Device, cs ...disk.Child) disk.Device {
	d.Children = cs
	return d
}
