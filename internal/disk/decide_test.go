package disk

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDecide(t *testing.T) {
	dev := Device{Path: "/dev/sdb", DevNum: "8:16", Type: "disk", Size: 100 * gib}
	ext4 := Signature{Type: "ext4", Usage: UsageFilesystem}
	dos := Signature{Type: "dos", Usage: UsagePartitionTable}
	lvm2 := Signature{Type: TypeLVM2Member, Usage: UsageRAID}
	busy := Reason{Code: "busyElsewhere", Message: "is a device of a mounted filesystem"}
	for _, tc := range []struct {
		name   string
		info   Info
		o      DecideOptions
		want   Verdict
		reason string
		wiped  []string
	}{
		{"blank", Info{Device: dev}, DecideOptions{MinSize: gib}, VerdictUse, "blank", nil},
		// A declared loop device is what the administrator asked for.
		{"loop device", Info{Device: Device{Path: "/dev/loop9", Type: "loop", Size: gib}}, DecideOptions{}, VerdictUse, "blank", nil},
		{"filesystem", Info{Device: dev, Signatures: []Signature{ext4}}, DecideOptions{}, VerdictRefuse,
			"has a filesystem (ext4); list it under wipe to erase its signatures", nil},
		{"filesystem and partition table listed under wipe", Info{Device: dev, Signatures: []Signature{ext4, dos}}, DecideOptions{Wipe: true}, VerdictWipe,
			"listed under wipe: has a filesystem (ext4); has a partition table (dos)", []string{"ext4", "dos"}},
		{"mounted listed under wipe", Info{Device: withMounts(dev, "/data"), Signatures: []Signature{ext4}}, DecideOptions{Wipe: true}, VerdictRefuse,
			"is mounted at /data; it is listed under wipe, but wiping only erases signatures of a device that is otherwise free", nil},
		{"PV listed under wipe", Info{Device: dev, Signatures: []Signature{lvm2}, PV: &PVInfo{VolumeGroup: "vg0"}}, DecideOptions{Wipe: true}, VerdictRefuse,
			"is an LVM physical volume of volume group vg0; it is listed under wipe, but wiping only erases signatures of a device that is otherwise free", nil},
		{"PV the caller accepts", Info{Device: dev, Signatures: []Signature{lvm2}, PV: &PVInfo{}}, DecideOptions{Ignore: []ReasonCode{ReasonLVMPhysicalVolume}}, VerdictUse, "blank", nil},
		{"too small", Info{Device: dev}, DecideOptions{MinSize: 200 * gib}, VerdictRefuse,
			"is 100Gi (107374182400 bytes), smaller than the minimum of 200Gi (214748364800 bytes)", nil},
		// A reason the caller adds is blocking unless its code is wipeable.
		{"extra blocking reason", Info{Device: dev, Signatures: []Signature{ext4}}, DecideOptions{Wipe: true, Extra: []Reason{busy}}, VerdictRefuse,
			"is a device of a mounted filesystem; it is listed under wipe, but wiping only erases signatures of a device that is otherwise free", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(tc.info, tc.o)
			if d.Verdict != tc.want || d.Reason != tc.reason {
				t.Errorf("Decide = %s %q, want %s %q", d.Verdict, d.Reason, tc.want, tc.reason)
			}
			if diff := cmp.Diff(tc.wiped, d.Wiped); diff != "" {
				t.Errorf("wiped (-want +got):\n%s", diff)
			}
			if (d.Verdict == VerdictUse) != (len(d.Problems) == 0) {
				t.Errorf("problems %v with verdict %s", d.Problems, d.Verdict)
			}
		})
	}
}

func withMounts(d Device, mps ...string) Device {
	d.MountPoints = mps
	return d
}
