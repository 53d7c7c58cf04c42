//go:build integration

package lvmd_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	api "github.com/toposuite/toposuite/internal/daemonapi"
	"github.com/toposuite/toposuite/internal/testutil"
	"github.com/toposuite/toposuite/lvmd/config"
)

// loopsOver lists the loop devices whose backing device is dev.
func loopsOver(t testing.TB, dev string) []string {
	out := testutil.Run(t, nil, "losetup", "--noheadings", "--output", "NAME", "--associated", dev)
	return strings.Fields(out)
}

func blockSize(t testing.TB, dev string) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(testutil.Run(t, nil, "blockdev", "--getsize64", dev)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestIntegrationDevelopmentLoopActivation(t *testing.T) {
	testutil.RequireTools(t, "mkfs.ext4", "resize2fs", "e2fsck")
	r := newRig(t, gib)
	pv := r.env.LVM(t, "pvs", "--noheadings", "-o", "pv_name", "-S", "vg_name="+r.vg)
	pv = strings.TrimSpace(pv)
	t.Cleanup(func() { // before the VG and its PV go away
		for _, l := range loopsOver(t, pv) {
			testutil.DetachLoop(t, l)
		}
	})
	r.stop()
	r.cfg.Activation = config.ActivationDevelopmentLoop
	r.start()
	c := testutil.Context(t)

	v, err := r.client.CreateVolume(c, &api.CreateVolumeRequest{Name: "dev1", SizeBytes: 64 * mib})
	if err != nil {
		t.Fatal(err)
	}
	dev := v.Volume.Path
	if !strings.HasPrefix(dev, "/dev/loop") || blockSize(t, dev) != 64*mib {
		t.Fatalf("path %q (size %d), want a 64 MiB loop device", dev, blockSize(t, dev))
	}
	// The real node path: mkfs, mount, write, read back.
	testutil.MkfsExt4(t, dev)
	mnt := testutil.Dir(t)
	testutil.Run(t, nil, "mount", dev, mnt)
	if err := os.WriteFile(filepath.Join(mnt, "hello"), []byte("data on an LV"), 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.Unmount(t, mnt)

	// Growing the LV grows its device; the filesystem follows (offline
	// here: online ext4 grow needs CAP_SYS_RESOURCE, TESTBED §1).
	g, err := r.client.ResizeVolume(c, &api.ResizeVolumeRequest{Name: "dev1", SizeBytes: 128 * mib})
	if err != nil {
		t.Fatal(err)
	}
	if g.Volume.Path != dev || blockSize(t, dev) != 128*mib {
		t.Fatalf("after resize: path %q size %d, want %s at 128 MiB", g.Volume.Path, blockSize(t, dev), dev)
	}
	testutil.Run(t, nil, "e2fsck", "-f", "-y", dev)
	testutil.Run(t, nil, "resize2fs", dev)
	testutil.Run(t, nil, "mount", dev, mnt)
	b, err := os.ReadFile(filepath.Join(mnt, "hello"))
	if err != nil || string(b) != "data on an LV" {
		t.Errorf("data after growth: %q, %v", b, err)
	}
	out := testutil.Run(t, nil, "df", "-B1", "--output=size", mnt)
	testutil.Unmount(t, mnt)
	if f := strings.Fields(out); len(f) < 2 {
		t.Errorf("df printed %q", out)
	} else if size, _ := strconv.ParseInt(f[1], 10, 64); size < 100*mib {
		t.Errorf("filesystem is %d bytes after growth, want over 100 MiB", size)
	}

	// A restarted lvmd finds the same device.
	r.stop()
	r.start()
	got, err := r.client.GetVolume(testutil.Context(t), &api.GetVolumeRequest{Name: "dev1"})
	if err != nil || got.Volume.Path != dev {
		t.Fatalf("after restart: %v, %v; want path %s", got, err, dev)
	}
	list, err := r.client.ListVolumes(testutil.Context(t), &api.ListVolumesRequest{})
	if err != nil || len(list.Volumes) != 1 || list.Volumes[0].Path != dev {
		t.Fatalf("list: %v, %v", list, err)
	}

	if _, err := r.client.RemoveVolume(testutil.Context(t), &api.RemoveVolumeRequest{Name: "dev1"}); err != nil {
		t.Fatal(err)
	}
	if l := loopsOver(t, pv); len(l) != 0 {
		t.Errorf("loop devices left over the PV after remove: %v", l)
	}
}
