package prepare

import (
	"strings"
	"testing"

	"github.com/toposuite/toposuite/lvmd/config"
)

func TestValidate(t *testing.T) {
	good := []config.VolumeGroup{
		{Name: "vg1", Devices: []string{"/dev/sdb", "/dev/disk/by-id/nvme-x"}, Wipe: []string{"/dev/sdb"}},
		{Name: "vg3", Devices: []string{"/dev/sdc"}, ThinPool: &config.PreparedThinPool{Name: "pool0", Size: "90%", ChunkSize: quantity("64Ki"), MetadataSize: quantity("1Gi")}},
		{Name: "vg2", LoopFiles: []config.LoopFile{{Path: "/var/lib/lvmd/d0.img", Size: quantity("1Gi")}}, Wipe: []string{"/var/lib/lvmd/d0.img"}},
	}
	if err := Validate(good); err != nil {
		t.Errorf("valid declaration refused: %v", err)
	}
	for _, tc := range []struct {
		name string
		vgs  []config.VolumeGroup
		want string
	}{
		{"nothing", nil, "volumeGroups: nothing to prepare"},
		{"bad name", []config.VolumeGroup{{Name: "-vg", Devices: []string{"/dev/sdb"}}}, `volumeGroups[0].name: volume group name "-vg" is not a valid LVM name`},
		{"twice", []config.VolumeGroup{{Name: "vg", Devices: []string{"/dev/sdb"}}, {Name: "vg", Devices: []string{"/dev/sdc"}}}, `volumeGroups[1].name: "vg" is declared twice`},
		{"no devices", []config.VolumeGroup{{Name: "vg"}}, "volumeGroups[0]: needs devices or loopFiles"},
		{"relative device", []config.VolumeGroup{{Name: "vg", Devices: []string{"sdb"}}}, `volumeGroups[0].devices[0]: "sdb" must be a clean absolute path`},
		{"unclean device", []config.VolumeGroup{{Name: "vg", Devices: []string{"/dev//sdb"}}}, `volumeGroups[0].devices[0]: "/dev//sdb" must be a clean absolute path`},
		{"device in two VGs", []config.VolumeGroup{{Name: "a", Devices: []string{"/dev/sdb"}}, {Name: "b", Devices: []string{"/dev/sdb"}}},
			"volumeGroups[1].devices[0]: /dev/sdb is declared in volumeGroups[0].devices[0] too"},
		{"loop file without size", []config.VolumeGroup{{Name: "vg", LoopFiles: []config.LoopFile{{Path: "/x.img"}}}}, "volumeGroups[0].loopFiles[0].size: a positive size is required"},
		{"relative loop file", []config.VolumeGroup{{Name: "vg", LoopFiles: []config.LoopFile{{Path: "x.img", Size: quantity("1Gi")}}}}, `volumeGroups[0].loopFiles[0].path: "x.img" must be a clean absolute path`},
		{"wipe names nothing declared", []config.VolumeGroup{{Name: "vg", Devices: []string{"/dev/sdb"}, Wipe: []string{"/dev/sdc"}}},
			`volumeGroups[0].wipe[0]: "/dev/sdc" is not one of this volume group's devices or loop files`},
		{"wipe names another VG's device", []config.VolumeGroup{{Name: "a", Devices: []string{"/dev/sdb"}}, {Name: "b", Devices: []string{"/dev/sdc"}, Wipe: []string{"/dev/sdb"}}},
			`volumeGroups[1].wipe[0]: "/dev/sdb" is not one of this volume group's devices`},
		{"thin pool without a size", []config.VolumeGroup{{Name: "vg", Devices: []string{"/dev/sdb"}, ThinPool: &config.PreparedThinPool{Name: "pool0"}}},
			`volumeGroups[0].thinPool.size: "" is neither a share of the volume group ("80%") nor a positive quantity ("100Gi")`},
		{"thin pool with a bad name and chunk", []config.VolumeGroup{{Name: "vg", Devices: []string{"/dev/sdb"},
			ThinPool: &config.PreparedThinPool{Name: "-p", Size: "50%", ChunkSize: quantity("100Ki")}}},
			"volumeGroups[0].thinPool.name: volume name \"-p\" may only contain letters, digits and + _ . - and must not start with -\n" +
				"volumeGroups[0].thinPool.chunkSize: 100Ki is not a multiple of 64Ki from 64Ki to 1Gi"},
		{"negative minimum", []config.VolumeGroup{{Name: "vg", Devices: []string{"/dev/sdb"}, MinDeviceSize: quantity("-1")}}, "volumeGroups[0].minDeviceSize: must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.vgs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
