//go:build vminner

package lvmd_test

import (
	"path/filepath"
	"testing"

	api "github.com/toposuite/toposuite/internal/daemonapi"
	"github.com/toposuite/toposuite/internal/testutil"
	"github.com/toposuite/toposuite/lvmd/config"
)

// An xfs volume grown while mounted, as the node plugin grows one: lvmd
// grows the LV, xfs_growfs the filesystem, and the filesystem sees the
// new size with its data in place. (The ext4 case is
// TestVMThickVolumeLifecycle.)
func TestVMOnlineXFSGrow(t *testing.T) {
	r := newVMRig(t, vmRigSpec{disks: vmDisks[:1], classes: []config.DeviceClass{{Name: "ssd", Default: true}}})
	// xfsprogs refuses filesystems under 300 MiB.
	v := r.create(&api.CreateVolumeRequest{Name: "xfs", SizeBytes: 320 * vmMiB})
	testutil.Run(t, nil, "mkfs.xfs", "-q", v.Path)
	mnt := t.TempDir()
	testutil.Run(t, nil, "mount", "-t", "xfs", v.Path, mnt)
	mounted := true
	t.Cleanup(func() {
		if mounted {
			testutil.Unmount(t, mnt)
		}
	})
	file := filepath.Join(mnt, "data")
	writePattern(t, file, 0, 16*vmMiB, 40)
	before := fsBytes(t, mnt)

	g, err := r.client.ResizeVolume(testutil.Context(t), &api.ResizeVolumeRequest{Name: "xfs", SizeBytes: 640 * vmMiB})
	if err != nil {
		t.Fatal(err)
	}
	if g.Volume.SizeBytes != 640*vmMiB {
		t.Errorf("resized to %d, want 640 MiB", g.Volume.SizeBytes)
	}
	wantBlockDevice(t, v.Path, 640*vmMiB)
	testutil.Run(t, nil, "xfs_growfs", mnt)
	if after := fsBytes(t, mnt); after < before+300*vmMiB {
		t.Errorf("xfs is %d bytes after the grow, was %d; want about 320 MiB more", after, before)
	}
	checkPattern(t, file, 0, 16*vmMiB, 40)
	writePattern(t, filepath.Join(mnt, "more"), 0, 16*vmMiB, 41)
	checkPattern(t, filepath.Join(mnt, "more"), 0, 16*vmMiB, 41)
	r.bookkeepingMatchesLVM()

	testutil.Unmount(t, mnt)
	mounted = false
	r.remove("", "xfs")
	wantGone(t, v.Path)
}
