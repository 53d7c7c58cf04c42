//go:build integration

package csi_test

import (
	"os"
	"path/filepath"
	"testing"

	mount "k8s.io/mount-utils"

	"github.com/toposuite/toposuite/csi"
	api "github.com/toposuite/toposuite/internal/daemonapi"
	"github.com/toposuite/toposuite/internal/testutil"
)

// The sweep of leftover ephemeral volumes at start keeps a volume that is
// mounted under another name of its device: device-mapper volumes show
// in the mount table as /dev/mapper/<vg>-<lv>, never as the /dev/<vg>/<lv>
// that LVM reports, so a sweep matching names only would remove every
// mounted ephemeral volume of a production node on each restart. A
// symlink to a loop device stands for LVM's name here.
func TestIntegrationEphemeralInUseByDeviceNumber(t *testing.T) {
	testutil.RequireRoot(t)
	dir := testutil.Dir(t)
	dev := testutil.LoopDevice(t, dir, 64<<20)
	testutil.MkfsExt4(t, dev)
	link := filepath.Join(dir, "vg-lv")
	if err := os.Symlink(dev, link); err != nil {
		t.Fatal(err)
	}
	v := &api.Volume{Name: "eph", Path: link}
	mounts := func() []mount.MountInfo {
		m, err := mount.ParseMountInfo("/proc/self/mountinfo")
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	if csi.InUse(v, mounts()) {
		t.Fatal("an unmounted volume reads as in use")
	}
	mp := testutil.MountAtCleanup(t, dev)
	if !csi.InUse(v, mounts()) {
		t.Errorf("volume %s (device %s) mounted at %s reads as unused", link, dev, mp)
	}
}
