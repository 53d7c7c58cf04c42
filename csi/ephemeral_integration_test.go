//go:build integration

package csi_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"github.com/go-logr/logr/testr"
	mount "k8s.io/mount-utils"

	"github.com/toposuite/toposuite/btrfsd"
	btrfsconfig "github.com/toposuite/toposuite/btrfsd/config"
	topocsi "github.com/toposuite/toposuite/csi"
	"github.com/toposuite/toposuite/internal/daemon"
	api "github.com/toposuite/toposuite/internal/daemonapi"
	"github.com/toposuite/toposuite/internal/testutil"
)

// TestIntegrationEphemeralBtrfsNoLeakAcrossRestart runs TopoLS's node
// service over a real btrfsd (no API server is needed for inline volumes):
// an inline volume is made on publish and removed on unpublish; one whose pod
// went away while the plugin was down (unmounted behind its back) is removed
// by the clean-up a restarted plugin runs, and one still mounted is kept
// until its unpublish.
func TestIntegrationEphemeralBtrfsNoLeakAcrossRestart(t *testing.T) {
	testutil.RequireRoot(t)
	mnt := testutil.Btrfs(t, 512<<20, true)
	pool := filepath.Join(mnt, "pool")
	if err := os.Mkdir(pool, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := &btrfsconfig.Config{Pools: []btrfsconfig.Pool{{Name: "fast", Path: pool, Default: true}}}
	cfg.Default()
	c, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	inst, err := btrfsd.Start(c, cfg, testr.NewWithInterface(t, testr.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	conn, closeConn, err := daemon.InProcess(inst.Server)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeConn)
	client := api.NewStorageDaemonClient(conn)
	kubelet := testutil.Dir(t)
	newNode := func() *topocsi.Node {
		return topocsi.NewNode(topocsi.BtrfsDriver("topols.io"), "n1", client, topocsi.NewDirPublisher(mount.New("")), kubelet, testr.NewWithInterface(t, testr.Options{}))
	}
	n := newNode()
	publish := func(id string) string {
		target := filepath.Join(kubelet, "pods", id, "mount")
		_, err := n.NodePublishVolume(c, &csi.NodePublishVolumeRequest{VolumeId: id, TargetPath: target, VolumeCapability: mountCap(""),
			VolumeContext: map[string]string{topocsi.ParamEphemeral: "true", topocsi.ParamSize: "16Mi"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = mount.CleanupMountPoint(target, mount.New(""), true) })
		return target
	}
	count := func() int {
		l, err := client.ListVolumes(c, &api.ListVolumesRequest{})
		if err != nil {
			t.Fatal(err)
		}
		return len(l.Volumes)
	}

	a := publish("csi-a")
	if count() != 1 {
		t.Fatalf("%d volumes after publish, want 1", count())
	}
	if _, err := n.NodeUnpublishVolume(c, &csi.NodeUnpublishVolumeRequest{VolumeId: "csi-a", TargetPath: a}); err != nil {
		t.Fatal(err)
	}
	if count() != 0 {
		t.Fatalf("%d volumes after unpublish, want 0", count())
	}

	gone := publish("csi-gone")
	kept := publish("csi-kept")
	testutil.Unmount(t, gone) // the pod went away while the plugin was down
	restarted := newNode()
	if err := restarted.CleanupEphemeral(c); err != nil {
		t.Fatal(err)
	}
	l, _ := client.ListVolumes(c, &api.ListVolumesRequest{})
	if len(l.Volumes) != 1 || l.Volumes[0].Name != topocsi.BtrfsDriver("topols.io").EphemeralName("csi-kept") {
		t.Errorf("after the clean-up: %v; want only the mounted volume", l.Volumes)
	}
	if _, err := os.Stat(kept); err != nil {
		t.Errorf("the kept volume's mount: %v", err)
	}
	// The restarted plugin knows the volume it kept: its pod's teardown
	// removes it.
	if _, err := restarted.NodeUnpublishVolume(c, &csi.NodeUnpublishVolumeRequest{VolumeId: "csi-kept", TargetPath: kept}); err != nil {
		t.Fatal(err)
	}
	if count() != 0 {
		t.Errorf("%d volumes after the kept volume's unpublish, want 0", count())
	}
}
