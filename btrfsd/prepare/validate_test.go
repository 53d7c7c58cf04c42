package prepare

import (
	"strings"
	"testing"

	"github.com/toposuite/toposuite/btrfsd/config"
)

func TestValidate(t *testing.T) {
	good := pool("fast", "/var/lib/topols/fast", "/dev/sdb", "/dev/sdc")
	good.Filesystem.DataProfile, good.Filesystem.MetadataProfile = "raid1", "raid1"
	good.Filesystem.MountOptions = []string{"noatime", "compress=zstd:3"}
	good = withWipe(good, "/dev/sdc")
	single := pool("one", "/var/lib/topols/one", "/dev/sdd")
	single.Filesystem.MetadataProfile = "dup"
	if err := Validate([]config.Pool{good, single, {Name: "dir", Path: "/srv"}}); err != nil {
		t.Errorf("valid pools: %v", err)
	}

	bad := pool("bad", "/var/lib/topols/bad", "sdb", "/dev/sdb", "/dev/sdb/")
	bad.Filesystem.DataProfile, bad.Filesystem.MetadataProfile = "raid1c4", "raid6"
	bad.Filesystem.MountOptions = []string{"noatime,compress", ""}
	bad.Filesystem.MinDeviceSize = quantity("-1")
	bad = withWipe(bad, "/dev/sde")
	raid0 := pool("r0", "/var/lib/topols/r0", "/dev/sdd")
	raid0.Filesystem.DataProfile = "raid0"
	err := Validate([]config.Pool{good, bad, raid0})
	if err != nil && strings.Contains(err.Error(), "metadataProfile") {
		t.Errorf("raid6 on 3 devices refused: %v", err)
	}
	for _, want := range []string{
		`pools[1].filesystem.devices[0]: "sdb" must be a clean absolute path such as /dev/sdb`,
		`pools[1].filesystem.devices[1]: /dev/sdb is declared in pools[0].filesystem.devices[0] too`,
		`pools[1].filesystem.devices[2]: "/dev/sdb/" must be a clean absolute path`,
		`pools[1].filesystem.wipe[0]: "/dev/sde" is not one of this pool's devices`,
		`pools[1].filesystem.dataProfile: raid1c4 needs at least 4 devices, 3 declared`,
		`pools[1].filesystem.mountOptions[0]: "noatime,compress" must be one option`,
		`pools[1].filesystem.mountOptions[1]: "" must be one option`,
		`pools[1].filesystem.minDeviceSize: must not be negative`,
		`pools[2].filesystem.dataProfile: raid0 needs at least 2 devices, 1 declared`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
	if err := Validate([]config.Pool{{Name: "dir", Path: "/srv"}}); err == nil || !strings.Contains(err.Error(), "nothing to prepare") {
		t.Errorf("no filesystem: %v", err)
	}
}
