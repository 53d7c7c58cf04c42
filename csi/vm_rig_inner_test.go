//go:build integration && vminner

package csi_test

// The rig of the VM lane's CSI tests: TopoLVM's node plugin, with lvmd
// embedded in production activation (LVM's own, on the guest's virtio
// disks), and the controller plugin, both in the guest, against the API
// server the host test runs (csi/vm_test.go hands it over). These tests run
// only inside the guest: docs/testing.md, "The VM lane".

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/rest"
	mount "k8s.io/mount-utils"
	utilexec "k8s.io/utils/exec"
	"sigs.k8s.io/controller-runtime/pkg/client"

	topocsi "github.com/toposuite/toposuite/csi"
	"github.com/toposuite/toposuite/internal/controllerplugin"
	"github.com/toposuite/toposuite/internal/daemon"
	"github.com/toposuite/toposuite/internal/nodeplugin"
	"github.com/toposuite/toposuite/internal/testutil"
	"github.com/toposuite/toposuite/internal/testutil/vm"
	"github.com/toposuite/toposuite/lvmd"
	lvmconfig "github.com/toposuite/toposuite/lvmd/config"
)

// The guest's disks (vm_test.go boots it with three).
var vmDisks = []string{"/dev/vda", "/dev/vdb", "/dev/vdc"}

const (
	vmPool = "pool"
	// The classes of a rig: thick is the default; thin exists when the
	// rig has a pool.
	classThick = "thick"
	classThin  = "thin"
)

type vmRigSpec struct {
	// pvs are the rig's PVs: disks, or device-mapper devices over them.
	pvs []string
	// pool is the size of the thin pool vmPool made before lvmd starts
	// (lvmd serves pools, it does not make them); poolArgs go to its
	// lvcreate.
	pool     int64
	poolArgs []string
	// overprovision is the thin class's ratio (default 4).
	overprovision float64
	// fs is the filesystem of Mount volumes that name none (default ext4).
	fs string
}

type vmRig struct {
	*plugins
	env *testutil.LVMEnv
	vg  string
}

func newVMRig(t *testing.T, spec vmRigSpec) *vmRig {
	t.Helper()
	vm.RequireGuest(t)
	cfg, c := vm.GuestAPIServer(t)
	// The Node goes last (cleanups run in reverse): the plugins stop
	// first, and the next test's rig starts from a Node of its own.
	testutil.Node(t, c, nodeName)
	t.Cleanup(func() { deleteNode(t, c) })

	env := testutil.NewLVMEnv(t, spec.pvs...)
	vg := testutil.UniqueName("csivmvg")
	env.VG(t, vg, spec.pvs...)
	// Registered before the plugins start, so it runs after they stop and
	// before the VG's removal: a removal the stop cut short (an lvremove
	// canceled mid-way) can leave an LV's device-mapper device behind,
	// holding the disks open for the next rig's vgcreate.
	t.Cleanup(func() { removeDMDevices(t, env, vg) })
	zero := resource.MustParse("0")
	classes := []lvmconfig.DeviceClass{{Name: classThick, VolumeGroup: vg, Default: true, Spare: &zero}}
	if spec.pool > 0 {
		env.LVM(t, append([]string{"lvcreate", "-y", "-T", "-L", strconv.FormatInt(spec.pool, 10) + "b", vg + "/" + vmPool}, spec.poolArgs...)...)
		ratio := spec.overprovision
		if ratio == 0 {
			ratio = 4
		}
		classes = append(classes, lvmconfig.DeviceClass{
			Name: classThin, VolumeGroup: vg, Type: lvmconfig.TypeThin,
			ThinPool: &lvmconfig.ThinPool{Name: vmPool, OverprovisionRatio: ratio},
		})
	}
	lcfg := &lvmconfig.Config{
		LVM:           lvmconfig.LVMSettings{Path: "lvm", Env: env.EnvMap()},
		Activation:    lvmconfig.ActivationLVM,
		DeviceClasses: classes,
	}
	lcfg.Default()
	fs := spec.fs
	if fs == "" {
		fs = "ext4"
	}
	pub := topocsi.NewDevicePublisher(&mount.SafeFormatAndMount{Interface: mount.New(""), Exec: utilexec.New()}, fs)
	p := startGuestPlugins(t, cfg, c, topocsi.LVMDriver("topolvm.io"), func(ctx context.Context) (*daemon.Instance, error) {
		return lvmd.Start(ctx, lcfg, testr.NewWithInterface(t, testr.Options{}).WithName("lvmd"))
	}, pub)
	return &vmRig{plugins: p, env: env, vg: vg}
}

// startGuestPlugins is startPlugins (integration_test.go) for an API server
// that runs elsewhere (on the host): the same plugins, options and
// readiness, with the Node already made.
func startGuestPlugins(t *testing.T, cfg *rest.Config, c client.Client, d topocsi.Driver, embedded func(context.Context) (*daemon.Instance, error), pub topocsi.Publisher) *plugins {
	t.Helper()
	dir := testutil.Dir(t)
	kubeletDir := filepath.Join(dir, "kubelet")
	if err := os.MkdirAll(kubeletDir, 0o750); err != nil {
		t.Fatal(err)
	}
	log := testr.NewWithInterface(t, testr.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	nodeSock, ctlSock := filepath.Join(dir, "node.sock"), filepath.Join(dir, "controller.sock")
	go func() {
		done <- nodeplugin.Run(ctx, nodeplugin.Options{
			Driver: d, NodeName: nodeName, CSISocket: nodeSock, TargetRoot: kubeletDir, Embedded: embedded,
			Publisher: pub, MetricsAddress: "0", HealthAddress: "0", RestConfig: cfg, Log: log.WithName("node"),
		})
	}()
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
	vmEventually(t, "the controller to see the node's capacity", func() bool {
		r, err := p.ctl.GetCapacity(context.Background(), &csi.GetCapacityRequest{AccessibleTopology: p.topology().Preferred[0]})
		return err == nil && r.AvailableCapacity > 0
	})
	return p
}

// vmEventually is testutil.Eventually with room for TCG, where the guest's
// CPU-bound work (plugin start-up, informers) is 16-40x slower: it polls
// for up to three minutes. It bounds a wait; it asserts no duration.
func vmEventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// deleteNode deletes the rig's Node once its plugins have stopped. The
// controller plugin's finalizer on it is gone with the plugin, so it is
// dropped here, as a node's removal from the cluster would see it done.
func deleteNode(t *testing.T, c client.Client) {
	t.Helper()
	ctx := context.Background()
	var n corev1.Node
	if err := c.Get(ctx, client.ObjectKey{Name: nodeName}, &n); err != nil {
		t.Errorf("get Node: %v", err)
		return
	}
	if len(n.Finalizers) > 0 {
		n.Finalizers = nil
		if err := c.Update(ctx, &n); err != nil {
			t.Errorf("drop the Node's finalizers: %v", err)
		}
	}
	if err := client.IgnoreNotFound(c.Delete(ctx, &n)); err != nil {
		t.Errorf("delete Node: %v", err)
	}
	vmEventually(t, "the Node to go", func() bool {
		return apierrors.IsNotFound(c.Get(ctx, client.ObjectKey{Name: nodeName}, &corev1.Node{}))
	})
}

// removeDMDevices deactivates vg's LVs and removes any device-mapper
// device left of them (dm names a VG's LVs "<vg>-<lv>", dashes doubled).
func removeDMDevices(t *testing.T, env *testutil.LVMEnv, vg string) {
	t.Helper()
	if out, err := testutil.RunErr(env.Env, "lvm", "vgchange", "-an", vg); err != nil {
		t.Logf("vgchange -an %s: %v: %s", vg, err, out)
	}
	out, err := testutil.RunErr(nil, "dmsetup", "ls")
	if err != nil {
		t.Logf("dmsetup ls: %v: %s", err, out)
		return
	}
	prefix := strings.ReplaceAll(vg, "-", "--") + "-"
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], prefix) {
			// A command killed mid-way can leave the device suspended,
			// which a plain remove waits on forever.
			_, _ = testutil.RunErr(nil, "dmsetup", "resume", f[0])
			if out, err := testutil.RunErr(nil, "dmsetup", "remove", "--force", "--retry", f[0]); err != nil {
				t.Errorf("a device of %s outlived its plugins and cannot be removed: dmsetup remove %s: %v: %s", vg, f[0], err, out)
			} else {
				t.Logf("removed device-mapper device %s, left by a removal the plugins' stop cut short", f[0])
			}
		}
	}
}
