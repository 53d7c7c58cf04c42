package disk

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

const gib = int64(1) << 30

func codes(rs []Reason) []ReasonCode {
	var out []ReasonCode
	for _, r := range rs {
		out = append(out, r.Code)
	}
	return out
}

func TestAssess(t *testing.T) {
	disk := Device{Path: "/dev/sdb", KernelName: "/dev/sdb", DevNum: "8:16", Type: "disk", Size: 100 * gib}
	with := func(f func(*Info)) Info {
		i := Info{Device: disk}
		f(&i)
		return i
	}
	ext4 := Signature{Offset: "0x438", Type: "ext4", Usage: UsageFilesystem, Label: "data"}
	dos := Signature{Offset: "0x1fe", Type: "dos", Usage: UsagePartitionTable}
	lvm2 := Signature{Offset: "0x218", Type: TypeLVM2Member, Usage: UsageRAID}
	swap := Signature{Offset: "0xff6", Type: "swap", Usage: UsageOther}
	crit := Criteria{MinSize: gib}

	for _, tc := range []struct {
		name    string
		info    Info
		crit    Criteria
		want    []ReasonCode
		message string // of the first reason, when set
	}{
		{"blank disk", with(func(*Info) {}), crit, nil, ""},
		{"too small", with(func(i *Info) { i.Size = gib - 1 }), crit, []ReasonCode{ReasonTooSmall},
			"is 1073741823 bytes, smaller than the minimum of 1Gi (1073741824 bytes)"},
		{"empty", with(func(i *Info) { i.Size = 0 }), crit, []ReasonCode{ReasonEmpty}, ""},
		{"read-only", with(func(i *Info) { i.ReadOnly = true }), crit, []ReasonCode{ReasonReadOnly}, "is read-only"},
		{"mounted ext4", with(func(i *Info) { i.MountPoints = []string{"/mnt"}; i.Signatures = []Signature{ext4} }), crit,
			[]ReasonCode{ReasonMounted, ReasonFilesystem}, "is mounted at /mnt"},
		{"swap", with(func(i *Info) { i.MountPoints = []string{"[SWAP]"}; i.Signatures = []Signature{swap} }), crit,
			[]ReasonCode{ReasonMounted, ReasonSignature}, "is in use as swap"},
		{"filesystem", with(func(i *Info) { i.Signatures = []Signature{ext4} }), crit, []ReasonCode{ReasonFilesystem},
			`has a filesystem (ext4, labelled "data")`},
		{"partition table", with(func(i *Info) { i.Signatures = []Signature{dos} }), crit, []ReasonCode{ReasonPartitioned},
			"has a partition table (dos)"},
		{"partitions with a mounted one", with(func(i *Info) {
			i.Signatures = []Signature{dos}
			i.Children = []Child{{Path: "/dev/sdb1", Type: "part", MountPoints: []string{"/data"}}}
		}), crit, []ReasonCode{ReasonMounted, ReasonPartitioned}, "has /dev/sdb1 built on it, which is mounted at /data"},
		{"held by device-mapper", with(func(i *Info) {
			i.Children = []Child{{Path: "/dev/mapper/crypt", Type: "crypt"}}
		}), crit, []ReasonCode{ReasonInUse}, "is used by /dev/mapper/crypt (crypt)"},
		{"PV of a VG", with(func(i *Info) { i.Signatures = []Signature{lvm2}; i.PV = &PVInfo{VolumeGroup: "vg1"} }), crit,
			[]ReasonCode{ReasonLVMPhysicalVolume}, "is an LVM physical volume of volume group vg1"},
		{"orphan PV", with(func(i *Info) { i.Signatures = []Signature{lvm2}; i.PV = &PVInfo{} }), crit,
			[]ReasonCode{ReasonLVMPhysicalVolume}, "is an LVM physical volume in no volume group"},
		{"PV that LVM does not see", with(func(i *Info) { i.Signatures = []Signature{lvm2} }), crit,
			[]ReasonCode{ReasonLVMPhysicalVolume}, ""},
		{"udev knows a filesystem the probe could not read", with(func(i *Info) {
			i.FSType = "xfs"
			i.ProbeError = "wipefs: error: /dev/sdb: probing initialization failed: Operation not permitted"
		}), crit, []ReasonCode{ReasonFilesystem, ReasonProbeFailed}, "has a filesystem (xfs, from the udev database)"},
		{"udev and probe agree", with(func(i *Info) { i.FSType = "ext4"; i.Signatures = []Signature{ext4} }), crit,
			[]ReasonCode{ReasonFilesystem}, ""},
		{"loop excluded", Info{Device: Device{Path: "/dev/loop4", Type: "loop", Size: 2 * gib}}, crit,
			[]ReasonCode{ReasonExcludedType}, ""},
		{"loop included", Info{Device: Device{Path: "/dev/loop4", Type: "loop", Size: 2 * gib}}, Criteria{IncludeLoop: true}, nil, ""},
		{"ram disk excluded", Info{Device: Device{Path: "/dev/ram0", DevNum: "1:0", Type: "disk", Size: 2 * gib}}, crit,
			[]ReasonCode{ReasonExcludedType}, "is a RAM disk; RAM disks are excluded unless asked for"},
		{"zram included", Info{Device: Device{Path: "/dev/zram0", DevNum: "253:0", Type: "disk", Size: 2 * gib}}, Criteria{IncludeRAM: true}, nil, ""},
		{"rom excluded", Info{Device: Device{Path: "/dev/sr0", Type: "rom", Size: 2 * gib, ReadOnly: true}}, crit,
			[]ReasonCode{ReasonExcludedType, ReasonReadOnly}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Assess(tc.info, tc.crit)
			if d := cmp.Diff(tc.want, codes(got)); d != "" {
				t.Errorf("codes (-want +got):\n%s\n%v", d, got)
			}
			if tc.message != "" && (len(got) == 0 || got[0].Message != tc.message) {
				t.Errorf("message = %v, want %q", got, tc.message)
			}
		})
	}
}
