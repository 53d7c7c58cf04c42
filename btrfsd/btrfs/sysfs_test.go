package btrfs

import (
	"os"
	"testing"
	"unsafe"
)

func TestParseSysfsUint(t *testing.T) {
	for file, want := range map[string]uint64{"max_referenced": 16 << 20, "max_referenced-none": 0} {
		b, err := os.ReadFile("testdata/" + file)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := ParseSysfsUint(b); err != nil || got != want {
			t.Errorf("%s: %d, %v; want %d", file, got, err, want)
		}
	}
	for _, bad := range []string{"", "-1\n", "12a\n", "18446744073709551616\n"} {
		if _, err := ParseSysfsUint([]byte(bad)); err == nil {
			t.Errorf("ParseSysfsUint(%q) accepted", bad)
		}
	}
}

func FuzzParseSysfsUint(f *testing.F) {
	f.Add([]byte("16777216\n"))
	f.Add([]byte("0"))
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = ParseSysfsUint(b) })
}

// The structs passed to ioctls must have the kernel's sizes exactly
// (sizes printed by a C program from linux/btrfs.h on this machine).
func TestIoctlStructSizes(t *testing.T) {
	for name, got := range map[string]uintptr{
		"btrfs_ioctl_vol_args":             unsafe.Sizeof(volArgs{}),
		"btrfs_ioctl_vol_args_v2":          unsafe.Sizeof(volArgsV2{}),
		"btrfs_qgroup_inherit":             unsafe.Sizeof(qgroupInherit{}),
		"btrfs_ioctl_quota_ctl_args":       unsafe.Sizeof(quotaCtlArgs{}),
		"btrfs_ioctl_qgroup_limit_args":    unsafe.Sizeof(qgroupLimitArgs{}),
		"btrfs_ioctl_get_subvol_info_args": unsafe.Sizeof(subvolInfo{}),
		"btrfs_ioctl_fs_info_args":         unsafe.Sizeof(fsInfoArgs{}),
	} {
		want := map[string]uintptr{
			"btrfs_ioctl_vol_args": 4096, "btrfs_ioctl_vol_args_v2": 4096, "btrfs_qgroup_inherit": 72,
			"btrfs_ioctl_quota_ctl_args": 16, "btrfs_ioctl_qgroup_limit_args": 48,
			"btrfs_ioctl_get_subvol_info_args": 504, "btrfs_ioctl_fs_info_args": 1024,
		}[name]
		if got != want {
			t.Errorf("%s: Go size %d, kernel size %d", name, got, want)
		}
	}
	if off := unsafe.Offsetof(volArgsV2{}.Name); off != 56 {
		t.Errorf("vol_args_v2.name at %d, want 56", off)
	}
	if off := unsafe.Offsetof(volArgsV2{}.Inherit); off != 32 {
		t.Errorf("vol_args_v2.qgroup_inherit at %d, want 32", off)
	}
	if off := unsafe.Offsetof(subvolInfo{}.Flags); off != 288 {
		t.Errorf("get_subvol_info.flags at %d, want 288", off)
	}
	if off := unsafe.Offsetof(fsInfoArgs{}.FSID); off != 16 {
		t.Errorf("fs_info.fsid at %d, want 16", off)
	}
}
