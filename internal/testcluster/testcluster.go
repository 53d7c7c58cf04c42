// Package testcluster starts, for integration tests and benchmarks, the
// provisioning path of one driver without a kubelet: a real API server,
// kube-controller-manager and csi-provisioner, topolvm-controller, and a
// node plugin with its own real storage daemon (a VG on a loop device, or a
// btrfs pool) for each of a few Node objects.
package testcluster

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	mount "k8s.io/mount-utils"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/toposuite/toposuite/btrfsd"
	btrfsconfig "github.com/toposuite/toposuite/btrfsd/config"
	topocsi "github.com/toposuite/toposuite/csi"
	"github.com/toposuite/toposuite/internal/controllerplugin"
	"github.com/toposuite/toposuite/internal/daemon"
	"github.com/toposuite/toposuite/internal/nodeplugin"
	"github.com/toposuite/toposuite/internal/testutil"
	"github.com/toposuite/toposuite/lvmd"
	lvmconfig "github.com/toposuite/toposuite/lvmd/config"
)

// Options shape the cluster.
type Options struct {
	// Driver is topolvm.io or topols.io.
	Driver string
	// NodeBytes is each node's storage (sparse), one entry per node, named
	// node-1, node-2, ...; default three nodes of 40 GiB.
	NodeBytes []int64
	// Binding is the StorageClass "sc"'s binding mode (default Immediate).
	Binding storagev1.VolumeBindingMode
}

// Cluster is a running provisioning path.
type Cluster struct {
	Config     *rest.Config
	Client     client.Client
	Kubeconfig string
	Driver     topocsi.Driver
	Nodes      []string
	// StorageClass is the name of the class created for the driver.
	StorageClass string
}

// Start starts everything and stops it at the test's cleanup. The API
// clients (and kube-controller-manager, as the e2e cluster raises it) run
// at 100 QPS / 200 burst, as the charts ship csi-provisioner.
func Start(t testing.TB, o Options) *Cluster {
	testutil.RequireRoot(t)
	if len(o.NodeBytes) == 0 {
		o.NodeBytes = []int64{40 << 30, 40 << 30, 40 << 30}
	}
	if o.Binding == "" {
		o.Binding = storagev1.VolumeBindingImmediate
	}
	provisioner, kcm := testutil.Tool(t, "csi-provisioner"), testutil.Tool(t, "kube-controller-manager")
	cfg, c := testutil.APIServer(t)
	cfg.QPS, cfg.Burst = 100, 200
	kc := testutil.Kubeconfig(t, cfg)
	log := testr.NewWithInterface(t, testr.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	var stops []chan error
	t.Cleanup(func() {
		cancel()
		for _, s := range stops {
			<-s
		}
	})
	run := func(f func() error) {
		ch := make(chan error, 1)
		stops = append(stops, ch)
		go func() { ch <- f() }()
	}
	d := topocsi.LVMDriver(o.Driver)
	class := "ssd"
	if o.Driver == "topols.io" {
		d, class = topocsi.BtrfsDriver(o.Driver), "fast"
	}
	cl := &Cluster{Config: cfg, Client: c, Kubeconfig: kc, Driver: d, StorageClass: "sc"}
	dir := testutil.Dir(t)
	for i, size := range o.NodeBytes {
		name := "node-" + strconv.Itoa(i+1)
		cl.Nodes = append(cl.Nodes, name)
		testutil.Node(t, c, name)
		embed := nodeDaemon(t, o.Driver, dir, i, size)
		sock := filepath.Join(dir, name+".sock")
		no := nodeplugin.Options{Driver: d, NodeName: name, CSISocket: sock, TargetRoot: dir, Embedded: embed,
			Publisher: topocsi.NewDirPublisher(mount.New("")), MetricsAddress: "0", HealthAddress: "0", RestConfig: cfg, Log: log.WithName(name)}
		run(func() error { return nodeplugin.Run(ctx, no) })
		var node corev1.Node
		testutil.Eventually(t, name+" capacity", func() bool {
			return c.Get(ctx, client.ObjectKey{Name: name}, &node) == nil && node.Annotations[d.CapacityAnnotation("")] != ""
		})
		testutil.RegisterCSINode(t, c, d, name)
		if err := c.Get(ctx, client.ObjectKey{Name: name}, &node); err != nil {
			t.Fatal(err)
		}
		patch := client.MergeFrom(node.DeepCopy())
		node.Labels[corev1.LabelHostname] = name
		// The API server taints new nodes not-ready; no kubelet will lift it.
		node.Spec.Taints = nil
		if err := c.Patch(ctx, &node, patch); err != nil {
			t.Fatal(err)
		}
		// Room for pods, so that kube-scheduler can place them here.
		patch = client.MergeFrom(node.DeepCopy())
		node.Status.Capacity = corev1.ResourceList{corev1.ResourcePods: resource.MustParse("110"),
			corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("8Gi")}
		node.Status.Allocatable = node.Status.Capacity
		node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "Fake", LastHeartbeatTime: metav1.Now()}}
		if err := c.Status().Patch(ctx, &node, patch); err != nil {
			t.Fatal(err)
		}
	}
	ctlSock := filepath.Join(dir, "controller.sock")
	run(func() error {
		return controllerplugin.Run(ctx, controllerplugin.Options{Driver: d, CSISocket: ctlSock, MetricsAddress: "0", HealthAddress: "0", RestConfig: cfg, Log: log.WithName("controller")})
	})
	binding := o.Binding
	if err := c.Create(ctx, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: cl.StorageClass}, Provisioner: d.Name,
		Parameters: map[string]string{d.Param(topocsi.ParamDeviceClass): class}, VolumeBindingMode: &binding}); err != nil {
		t.Fatal(err)
	}
	testutil.Process(t, kcm, "--kubeconfig", kc, "--leader-elect=false", "--secure-port=0", "--kube-api-qps=100", "--kube-api-burst=200",
		"--controllers=persistentvolume-binder-controller,persistentvolumeclaim-protection-controller,persistentvolume-protection-controller")
	testutil.Process(t, provisioner, "--csi-address", ctlSock, "--kubeconfig", kc, "--leader-election=false", "--feature-gates=Topology=true",
		"--strict-topology", "--extra-create-metadata", "--timeout=60s", "--kube-api-qps=100", "--kube-api-burst=200", "--worker-threads=100")
	time.Sleep(2 * time.Second) // let the sidecar and the controllers sync their informers
	return cl
}

// nodeDaemon gives node i its own storage: a VG on its own loop device in a
// private LVM configuration (LVM's own activation), or a btrfs pool.
func nodeDaemon(t testing.TB, driver, dir string, i int, size int64) func(ctx context.Context) (*daemon.Instance, error) {
	if driver == "topols.io" {
		mnt := testutil.Btrfs(t, size, true)
		cfg := &btrfsconfig.Config{Pools: []btrfsconfig.Pool{{Name: "fast", Path: mnt, Default: true}}}
		cfg.Default()
		return func(ctx context.Context) (*daemon.Instance, error) {
			return btrfsd.Start(ctx, cfg, testr.NewWithInterface(t, testr.Options{}))
		}
	}
	dev := testutil.LoopDevice(t, dir, size)
	env := testutil.NewLVMEnv(t, dev)
	vg := testutil.UniqueName(fmt.Sprintf("node%d", i+1))
	env.VG(t, vg, dev)
	zero := resource.MustParse("0")
	cfg := &lvmconfig.Config{LVM: lvmconfig.LVMSettings{Path: "lvm", Env: env.EnvMap()},
		DeviceClasses: []lvmconfig.DeviceClass{{Name: "ssd", VolumeGroup: vg, Default: true, Spare: &zero}}}
	cfg.Default()
	return func(ctx context.Context) (*daemon.Instance, error) {
		return lvmd.Start(ctx, cfg, testr.NewWithInterface(t, testr.Options{}))
	}
}
