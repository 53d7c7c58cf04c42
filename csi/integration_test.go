//go:build integration

package csi_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"github.com/go-logr/logr/testr"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/rest"
	mount "k8s.io/mount-utils"
	utilexec "k8s.io/utils/exec"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/toposuite/toposuite/btrfsd"
	btrfsconfig "github.com/toposuite/toposuite/btrfsd/config"
	topocsi "github.com/toposuite/toposuite/csi"
	v1 "github.com/toposuite/toposuite/internal/api/topolvm/v1"
	"github.com/toposuite/toposuite/internal/controllerplugin"
	"github.com/toposuite/toposuite/internal/daemon"
	"github.com/toposuite/toposuite/internal/nodeplugin"
	"github.com/toposuite/toposuite/internal/testutil"
	"github.com/toposuite/toposuite/lvmd"
	lvmconfig "github.com/toposuite/toposuite/lvmd/config"
)

const (
	mib      = int64(1) << 20
	nodeName = "node-1"
)

// plugins is a real API server with one driver's controller and node
// plugins running in this process over a real storage daemon, reached over
// their CSI sockets like the sidecars and the kubelet reach them.
type plugins struct {
	cfg        *rest.Config
	nodeSock   string
	ctlSock    string
	d          topocsi.Driver
	c          client.Client
	ctl        csi.ControllerClient
	node       csi.NodeClient
	kubeletDir string
}

// startPlugins starts the plugins of driver d; daemon sets how the node
// reaches its storage daemon (Embedded or DaemonSocket).
func startPlugins(t testing.TB, d topocsi.Driver, daemon func(*nodeplugin.Options), pub topocsi.Publisher) *plugins {
	t.Helper()
	cfg, c := testutil.APIServer(t)
	cfg.QPS, cfg.Burst = 100, 200 // what the binaries' --kube-api-qps/--kube-api-burst default to
	testutil.Node(t, c, nodeName)
	dir := testutil.Dir(t)
	kubeletDir := filepath.Join(dir, "kubelet")
	if err := os.MkdirAll(kubeletDir, 0o750); err != nil {
		t.Fatal(err)
	}
	log := testr.NewWithInterface(t, testr.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	nodeSock, ctlSock := filepath.Join(dir, "node.sock"), filepath.Join(dir, "controller.sock")
	no := nodeplugin.Options{
		Driver: d, NodeName: nodeName, CSISocket: nodeSock, TargetRoot: kubeletDir,
		Publisher: pub, MetricsAddress: "0", HealthAddress: "0", RestConfig: cfg, Log: log.WithName("node"),
	}
	daemon(&no)
	go func() { done <- nodeplugin.Run(ctx, no) }()
	go func() {
		done <- controllerplugin.Run(ctx, controllerplugin.Options{
			Driver: d, CSISocket: ctlSock, MetricsAddress: "0", HealthAddress: "0", RestConfig: cfg, Log: log.WithName("controller"),
		})
	}()
	t.Cleanup(func() {
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Errorf("plugin: %v", err)
			}
		}
	})
	p := &plugins{d: d, c: c, cfg: cfg, kubeletDir: kubeletDir, nodeSock: nodeSock, ctlSock: ctlSock}
	p.ctl = csi.NewControllerClient(dial(t, ctlSock))
	p.node = csi.NewNodeClient(dial(t, nodeSock))
	// Ready when the node has published its capacity and the controller,
	// which reads Nodes from its own cache, sees it: CreateVolume reads
	// that cache, and the annotation can reach the API server before it.
	testutil.Eventually(t, "capacity annotation", func() bool {
		var n corev1.Node
		return c.Get(context.Background(), client.ObjectKey{Name: nodeName}, &n) == nil && n.Annotations[d.CapacityAnnotation("")] != ""
	})
	testutil.Eventually(t, "the controller to see the node's capacity", func() bool {
		r, err := p.ctl.GetCapacity(context.Background(), &csi.GetCapacityRequest{AccessibleTopology: p.topology().Preferred[0]})
		return err == nil && r.AvailableCapacity > 0
	})
	return p
}

// with is first followed by more, as one option setter.
func with(first func(*nodeplugin.Options), more []func(*nodeplugin.Options)) func(*nodeplugin.Options) {
	return func(o *nodeplugin.Options) {
		first(o)
		for _, f := range more {
			f(o)
		}
	}
}

func dial(t testing.TB, sock string) *grpc.ClientConn {
	t.Helper()
	testutil.Eventually(t, "socket "+sock, func() bool { _, err := os.Stat(sock); return err == nil })
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func mountCap(fs string) *csi.VolumeCapability {
	return &csi.VolumeCapability{
		AccessType: &csi.VolumeCapability_Mount{Mount: &csi.VolumeCapability_MountVolume{FsType: fs}},
		AccessMode: &csi.VolumeCapability_AccessMode{Mode: csi.VolumeCapability_AccessMode_SINGLE_NODE_WRITER},
	}
}

func blockCap() *csi.VolumeCapability {
	return &csi.VolumeCapability{
		AccessType: &csi.VolumeCapability_Block{Block: &csi.VolumeCapability_BlockVolume{}},
		AccessMode: &csi.VolumeCapability_AccessMode{Mode: csi.VolumeCapability_AccessMode_SINGLE_NODE_WRITER},
	}
}

func (p *plugins) topology() *csi.TopologyRequirement {
	return &csi.TopologyRequirement{Preferred: []*csi.Topology{{Segments: map[string]string{p.d.TopologyKey: nodeName}}}}
}

func (p *plugins) target(name string) string {
	return filepath.Join(p.kubeletDir, "pods", "uid", "volumes", name, "mount")
}

func (p *plugins) lvGone(t testing.TB, id string) {
	testutil.Eventually(t, "LogicalVolume "+id+" to go", func() bool {
		var lv v1.LogicalVolume
		return client.IgnoreNotFound(p.c.Get(context.Background(), client.ObjectKey{Name: id}, &lv)) == nil &&
			p.c.Get(context.Background(), client.ObjectKey{Name: id}, &lv) != nil
	})
}

func statfsSize(t testing.TB, path string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Blocks) * st.Bsize
}

// lvmRig starts the LVM driver over a fresh loop-backed VG (development
// loop activation) and returns the plugins, the LVM environment and the VG.
func lvmRig(t testing.TB, opts ...func(*nodeplugin.Options)) (*plugins, *testutil.LVMEnv, string) {
	t.Helper()
	p, env, vg, _ := lvmRigWith(t, false, lvmconfig.ActivationDevelopmentLoop, opts...)
	return p, env, vg
}

// lvmRigWith can run lvmd standalone on a socket (remote) instead of
// embedded; it then also returns lvmd's start function, for restarts.
func lvmRigWith(t testing.TB, remote bool, activation string, opts ...func(*nodeplugin.Options)) (*plugins, *testutil.LVMEnv, string, func() func()) {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireTools(t, "lvm", "mkfs.xfs", "xfs_growfs")
	dir := testutil.Dir(t)
	dev := testutil.LoopDevice(t, dir, 3<<30)
	env := testutil.NewLVMEnv(t, dev)
	vg := testutil.UniqueName("csivg")
	env.VG(t, vg, dev)
	t.Cleanup(func() { // loop devices of the development activation, before the VG goes
		for _, l := range strings.Fields(testutil.Run(t, nil, "losetup", "--noheadings", "--output", "NAME", "--associated", dev)) {
			testutil.DetachLoop(t, l)
		}
	})
	zero := resource.MustParse("0")
	cfg := &lvmconfig.Config{
		LVM:           lvmconfig.LVMSettings{Path: "lvm", Env: env.EnvMap()},
		Activation:    activation,
		DeviceClasses: []lvmconfig.DeviceClass{{Name: "ssd", VolumeGroup: vg, Default: true, Spare: &zero}},
	}
	cfg.Default()
	d := topocsi.LVMDriver("topolvm.io")
	pub := topocsi.NewDevicePublisher(&mount.SafeFormatAndMount{Interface: mount.New(""), Exec: utilexec.New()}, "ext4")
	start := func(ctx context.Context) (*daemon.Instance, error) {
		return lvmd.Start(ctx, cfg, testr.NewWithInterface(t, testr.Options{}).WithName("lvmd"))
	}
	if !remote {
		return startPlugins(t, d, with(func(o *nodeplugin.Options) { o.Embedded = start }, opts), pub), env, vg, nil
	}
	sock := filepath.Join(dir, "lvmd.sock")
	serve := func() func() {
		_, stop := testutil.ServeDaemon(t, sock, start)
		return stop
	}
	stop := serve()
	t.Cleanup(func() {
		if stop != nil {
			stop()
		}
	})
	p := startPlugins(t, d, with(func(o *nodeplugin.Options) { o.DaemonSocket = sock }, opts), pub)
	return p, env, vg, func() func() { stop(); stop = nil; return func() { stop = serve() } }
}

func TestIntegrationLVMVolumeLifecycle(t *testing.T) {
	p, env, vg := lvmRig(t)
	c := testutil.Context(t)

	// Filesystem volume: create, publish (mkfs.xfs + mount), write, stats, grow online, unpublish, delete.
	vol, err := p.ctl.CreateVolume(c, &csi.CreateVolumeRequest{
		Name: "pvc-fs", VolumeCapabilities: []*csi.VolumeCapability{mountCap("xfs")},
		CapacityRange: &csi.CapacityRange{RequiredBytes: 100 * mib}, AccessibilityRequirements: p.topology(),
	})
	if err != nil {
		t.Fatal(err)
	}
	id := vol.Volume.VolumeId
	if vol.Volume.CapacityBytes != 300*mib {
		t.Errorf("capacity %d, want xfs's 300 MiB minimum", vol.Volume.CapacityBytes)
	}
	if got := strings.TrimSpace(env.LVM(t, "lvs", "--noheadings", "-o", "lv_size", "--units", "b", "--nosuffix", vg+"/"+id)); got != "314572800" {
		t.Errorf("LV size %q", got)
	}
	target := p.target("fs")
	if _, err := p.node.NodePublishVolume(c, &csi.NodePublishVolumeRequest{VolumeId: id, TargetPath: target, VolumeCapability: mountCap("xfs")}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(target, "data"), []byte("hello from a pod"), 0o644); err != nil {
		t.Fatal(err)
	}
	stats, err := p.node.NodeGetVolumeStats(c, &csi.NodeGetVolumeStatsRequest{VolumeId: id, VolumePath: target})
	if err != nil || stats.VolumeCondition.GetAbnormal() || stats.Usage[0].Total < 200*mib {
		t.Errorf("stats: %v, %v", stats, err)
	}
	before := statfsSize(t, target)
	exp, err := p.ctl.ControllerExpandVolume(c, &csi.ControllerExpandVolumeRequest{VolumeId: id, CapacityRange: &csi.CapacityRange{RequiredBytes: 500 * mib}, VolumeCapability: mountCap("xfs")})
	if err != nil || !exp.NodeExpansionRequired || exp.CapacityBytes != 500*mib {
		t.Fatalf("controller expand: %v, %v", exp, err)
	}
	if _, err := p.node.NodeExpandVolume(c, &csi.NodeExpandVolumeRequest{VolumeId: id, VolumePath: target, VolumeCapability: mountCap("xfs")}); err != nil {
		t.Fatal(err)
	}
	if after := statfsSize(t, target); after <= before {
		t.Errorf("filesystem %d bytes after online growth, was %d", after, before)
	}
	if b, _ := os.ReadFile(filepath.Join(target, "data")); string(b) != "hello from a pod" {
		t.Errorf("data after growth: %q", b)
	}
	for range 2 { // idempotent
		if _, err := p.node.NodeUnpublishVolume(c, &csi.NodeUnpublishVolumeRequest{VolumeId: id, TargetPath: target}); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if _, err := p.ctl.DeleteVolume(c, &csi.DeleteVolumeRequest{VolumeId: id}); err != nil {
			t.Fatal(err)
		}
	}
	p.lvGone(t, id)
	if out := env.LVM(t, "lvs", "--noheadings", "-o", "lv_name", vg); strings.Contains(out, id) {
		t.Errorf("LV %s left: %s", id, out)
	}

	// The other filesystems on an LV: ext4 (the default) and btrfs.
	for _, fs := range []string{"", "btrfs"} {
		v, err := p.ctl.CreateVolume(c, &csi.CreateVolumeRequest{Name: "pvc-fs-" + fs + "x", VolumeCapabilities: []*csi.VolumeCapability{mountCap(fs)},
			CapacityRange: &csi.CapacityRange{RequiredBytes: 16 * mib}, AccessibilityRequirements: p.topology()})
		if err != nil {
			t.Fatalf("%q: %v", fs, err)
		}
		tg := p.target("fs-" + fs + "x")
		if _, err := p.node.NodePublishVolume(c, &csi.NodePublishVolumeRequest{VolumeId: v.Volume.VolumeId, TargetPath: tg, VolumeCapability: mountCap(fs)}); err != nil {
			t.Fatalf("publish %q: %v", fs, err)
		}
		if err := os.WriteFile(filepath.Join(tg, "f"), []byte("x"), 0o644); err != nil {
			t.Errorf("write on %q: %v", fs, err)
		}
		if _, err := p.node.NodeUnpublishVolume(c, &csi.NodeUnpublishVolumeRequest{VolumeId: v.Volume.VolumeId, TargetPath: tg}); err != nil {
			t.Fatal(err)
		}
		if _, err := p.ctl.DeleteVolume(c, &csi.DeleteVolumeRequest{VolumeId: v.Volume.VolumeId}); err != nil {
			t.Fatal(err)
		}
		p.lvGone(t, v.Volume.VolumeId)
	}

	// Block volume: the device bound onto a file.
	bvol, err := p.ctl.CreateVolume(c, &csi.CreateVolumeRequest{Name: "pvc-block", VolumeCapabilities: []*csi.VolumeCapability{blockCap()},
		CapacityRange: &csi.CapacityRange{RequiredBytes: 16 * mib}, AccessibilityRequirements: p.topology()})
	if err != nil {
		t.Fatal(err)
	}
	btarget := filepath.Join(p.kubeletDir, "plugins", "block", "dev")
	if err := os.MkdirAll(filepath.Dir(btarget), 0o750); err != nil {
		t.Fatal(err)
	}
	if _, err := p.node.NodePublishVolume(c, &csi.NodePublishVolumeRequest{VolumeId: bvol.Volume.VolumeId, TargetPath: btarget, VolumeCapability: blockCap()}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(btarget); err != nil || fi.Mode()&os.ModeDevice == 0 {
		t.Errorf("block target is not a device: %v, %v", fi, err)
	}
	if _, err := p.node.NodeUnpublishVolume(c, &csi.NodeUnpublishVolumeRequest{VolumeId: bvol.Volume.VolumeId, TargetPath: btarget}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.ctl.DeleteVolume(c, &csi.DeleteVolumeRequest{VolumeId: bvol.Volume.VolumeId}); err != nil {
		t.Fatal(err)
	}
	p.lvGone(t, bvol.Volume.VolumeId)

	// Inline ephemeral volume: made on publish, gone on unpublish.
	etarget := p.target("ephemeral")
	_, err = p.node.NodePublishVolume(c, &csi.NodePublishVolumeRequest{VolumeId: "csi-0123456789abcdef", TargetPath: etarget, VolumeCapability: mountCap("ext4"),
		VolumeContext: map[string]string{topocsi.ParamEphemeral: "true", topocsi.ParamSize: "32Mi"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(etarget, "scratch"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := p.node.NodeUnpublishVolume(c, &csi.NodeUnpublishVolumeRequest{VolumeId: "csi-0123456789abcdef", TargetPath: etarget}); err != nil {
		t.Fatal(err)
	}
	if out := env.LVM(t, "lvs", "--noheadings", "-o", "lv_name", vg); strings.TrimSpace(out) != "" {
		t.Errorf("LVs left after the ephemeral volume: %q", out)
	}
}

// btrfsRig starts the btrfs driver over a fresh pool and returns the
// plugins and the pool directory.
func btrfsRig(t testing.TB, opts ...func(*nodeplugin.Options)) (*plugins, string) {
	t.Helper()
	testutil.RequireRoot(t)
	mnt := testutil.Btrfs(t, 1<<30, true)
	pool := filepath.Join(mnt, "pool")
	if err := os.Mkdir(pool, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := &btrfsconfig.Config{Pools: []btrfsconfig.Pool{{Name: "fast", Path: pool, Default: true}}}
	cfg.Default()
	d := topocsi.BtrfsDriver("topols.io")
	p := startPlugins(t, d, with(func(o *nodeplugin.Options) {
		o.Embedded = func(ctx context.Context) (*daemon.Instance, error) {
			return btrfsd.Start(ctx, cfg, testr.NewWithInterface(t, testr.Options{}).WithName("btrfsd"))
		}
	}, opts), topocsi.NewDirPublisher(mount.New("")))
	return p, pool
}

func TestIntegrationBtrfsVolumeLifecycle(t *testing.T) {
	p, pool := btrfsRig(t)
	c := testutil.Context(t)

	vol, err := p.ctl.CreateVolume(c, &csi.CreateVolumeRequest{Name: "pvc-ls", VolumeCapabilities: []*csi.VolumeCapability{mountCap("")},
		CapacityRange: &csi.CapacityRange{RequiredBytes: 32 * mib}, AccessibilityRequirements: p.topology()})
	if err != nil {
		t.Fatal(err)
	}
	id := vol.Volume.VolumeId
	target := p.target("ls")
	if _, err := p.node.NodePublishVolume(c, &csi.NodePublishVolumeRequest{VolumeId: id, TargetPath: target, VolumeCapability: mountCap("")}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(target, "f"), make([]byte, 8*mib), 0o644); err != nil {
		t.Fatal(err)
	}
	stats, err := p.node.NodeGetVolumeStats(c, &csi.NodeGetVolumeStatsRequest{VolumeId: id, VolumePath: target})
	if err != nil || stats.Usage[0].Total != 32*mib || stats.Usage[0].Used < 8*mib {
		t.Errorf("stats from the qgroup: %v, %v", stats, err)
	}
	exp, err := p.ctl.ControllerExpandVolume(c, &csi.ControllerExpandVolumeRequest{VolumeId: id, CapacityRange: &csi.CapacityRange{RequiredBytes: 64 * mib}})
	if err != nil || exp.NodeExpansionRequired || exp.CapacityBytes != 64*mib {
		t.Errorf("expand: %v, %v (the quota is the size: no node step)", exp, err)
	}
	// Read-only publication of the same volume.
	ro := p.target("ls-ro")
	if _, err := p.node.NodePublishVolume(c, &csi.NodePublishVolumeRequest{VolumeId: id, TargetPath: ro, VolumeCapability: mountCap(""), Readonly: true}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ro, "g"), []byte("x"), 0o644); err == nil {
		t.Error("wrote through a read-only publication")
	}
	// Snapshot and restore land on the same node, with the data.
	snap, err := p.ctl.CreateSnapshot(c, &csi.CreateSnapshotRequest{Name: "snap-1", SourceVolumeId: id})
	if err != nil || !snap.Snapshot.ReadyToUse {
		t.Fatalf("snapshot: %v, %v", snap, err)
	}
	restore, err := p.ctl.CreateVolume(c, &csi.CreateVolumeRequest{Name: "pvc-restore", VolumeCapabilities: []*csi.VolumeCapability{mountCap("")},
		CapacityRange:       &csi.CapacityRange{RequiredBytes: 64 * mib},
		VolumeContentSource: &csi.VolumeContentSource{Type: &csi.VolumeContentSource_Snapshot{Snapshot: &csi.VolumeContentSource_SnapshotSource{SnapshotId: snap.Snapshot.SnapshotId}}}})
	if err != nil {
		t.Fatal(err)
	}
	rt := p.target("restore")
	if _, err := p.node.NodePublishVolume(c, &csi.NodePublishVolumeRequest{VolumeId: restore.Volume.VolumeId, TargetPath: rt, VolumeCapability: mountCap("")}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(rt, "f")); err != nil || fi.Size() != 8*mib {
		t.Errorf("restored data: %v, %v", fi, err)
	}
	for _, tp := range []struct{ id, target string }{{id, target}, {id, ro}, {restore.Volume.VolumeId, rt}} {
		if _, err := p.node.NodeUnpublishVolume(c, &csi.NodeUnpublishVolumeRequest{VolumeId: tp.id, TargetPath: tp.target}); err != nil {
			t.Fatal(err)
		}
	}
	for _, del := range []func() error{
		func() error {
			_, err := p.ctl.DeleteVolume(c, &csi.DeleteVolumeRequest{VolumeId: restore.Volume.VolumeId})
			return err
		},
		func() error {
			_, err := p.ctl.DeleteSnapshot(c, &csi.DeleteSnapshotRequest{SnapshotId: snap.Snapshot.SnapshotId})
			return err
		},
		func() error { _, err := p.ctl.DeleteVolume(c, &csi.DeleteVolumeRequest{VolumeId: id}); return err },
	} {
		if err := del(); err != nil {
			t.Fatal(err)
		}
	}
	for _, gone := range []string{restore.Volume.VolumeId, snap.Snapshot.SnapshotId, id} {
		p.lvGone(t, gone)
	}
	testutil.Eventually(t, "subvolumes to go", func() bool { e, _ := os.ReadDir(pool); return len(e) == 0 })
}
