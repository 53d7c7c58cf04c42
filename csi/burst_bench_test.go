//go:build integration

package csi_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	mount "k8s.io/mount-utils"
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

// BenchmarkPVCBurst creates 100 PVCs of 1 GiB at once (Immediate binding)
// over three nodes, each with its own storage daemon, through the real
// csi-provisioner and kube-controller-manager (both at 100 QPS / 200 burst,
// as the charts ship the provisioner and the cluster harness raises the
// controller manager), and times until all are Bound (with per-PVC
// latency), then deletes them and times until every PV and volume is gone.
// There is no kubelet: this is the provisioning path only.
func BenchmarkPVCBurst(b *testing.B) {
	n := 100
	if s := os.Getenv("TOPOSUITE_BENCH_PVCS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	for _, driver := range []string{"topolvm.io", "topols.io"} {
		b.Run(driver, func(b *testing.B) { pvcBurst(b, driver, n) })
	}
}

func pvcBurst(b *testing.B, driver string, n int) {
	testutil.RequireRoot(b)
	provisioner, kcm := testutil.Tool(b, "csi-provisioner"), testutil.Tool(b, "kube-controller-manager")
	cfg, c := testutil.APIServer(b)
	cfg.QPS, cfg.Burst = 100, 200
	kc := testutil.Kubeconfig(b, cfg)
	log := testr.NewWithInterface(b, testr.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	var stops []chan error
	b.Cleanup(func() {
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
	d := topocsi.LVMDriver(driver)
	classKey, class := "topolvm.io/device-class", "ssd"
	if driver == "topols.io" {
		d, classKey, class = topocsi.BtrfsDriver(driver), "topols.io/device-class", "fast"
	}
	dir := testutil.Dir(b)
	nodes := []string{"node-1", "node-2", "node-3"}
	for i, name := range nodes {
		testutil.Node(b, c, name)
		embed := nodeDaemon(b, driver, dir, i)
		sock := filepath.Join(dir, name+".sock")
		o := nodeplugin.Options{Driver: d, NodeName: name, CSISocket: sock, TargetRoot: dir, Embedded: embed,
			Publisher: topocsi.NewDirPublisher(mount.New("")), MetricsAddress: "0", HealthAddress: "0", RestConfig: cfg, Log: log.WithName(name)}
		run(func() error { return nodeplugin.Run(ctx, o) })
		var node corev1.Node
		testutil.Eventually(b, name+" capacity", func() bool {
			return c.Get(ctx, client.ObjectKey{Name: name}, &node) == nil && node.Annotations[d.CapacityAnnotation("")] != ""
		})
		patch := client.MergeFrom(node.DeepCopy())
		node.Labels = map[string]string{d.TopologyKey: name}
		if err := c.Patch(ctx, &node, patch); err != nil {
			b.Fatal(err)
		}
		if err := c.Create(ctx, &storagev1.CSINode{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: storagev1.CSINodeSpec{Drivers: []storagev1.CSINodeDriver{
			{Name: d.Name, NodeID: name, TopologyKeys: []string{d.TopologyKey}}}}}); err != nil {
			b.Fatal(err)
		}
	}
	ctlSock := filepath.Join(dir, "controller.sock")
	run(func() error {
		return controllerplugin.Run(ctx, controllerplugin.Options{Driver: d, CSISocket: ctlSock, MetricsAddress: "0", HealthAddress: "0", RestConfig: cfg, Log: log.WithName("controller")})
	})
	immediate := storagev1.VolumeBindingImmediate
	if err := c.Create(ctx, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "sc"}, Provisioner: d.Name,
		Parameters: map[string]string{classKey: class}, VolumeBindingMode: &immediate}); err != nil {
		b.Fatal(err)
	}
	testutil.Process(b, kcm, "--kubeconfig", kc, "--leader-elect=false", "--secure-port=0", "--kube-api-qps=100", "--kube-api-burst=200",
		"--controllers=persistentvolume-binder-controller,persistentvolumeclaim-protection-controller,persistentvolume-protection-controller")
	testutil.Process(b, provisioner, "--csi-address", ctlSock, "--kubeconfig", kc, "--leader-election=false", "--feature-gates=Topology=true",
		"--strict-topology", "--extra-create-metadata", "--timeout=60s", "--kube-api-qps=100", "--kube-api-burst=200", "--worker-threads=100")
	time.Sleep(2 * time.Second) // let the sidecar and the controllers sync their informers; not timed

	sc := "sc"
	created := make([]time.Time, n)
	start := time.Now()
	for i := range n {
		pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("burst-%03d", i), Namespace: "default"},
			Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, StorageClassName: &sc,
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}
		created[i] = time.Now()
		if err := c.Create(ctx, pvc); err != nil {
			b.Fatal(err)
		}
	}
	bound := map[string]time.Duration{}
	deadline := time.Now().Add(3 * time.Minute)
	for len(bound) < n && time.Now().Before(deadline) {
		var list corev1.PersistentVolumeClaimList
		if err := c.List(ctx, &list, client.InNamespace("default")); err != nil {
			b.Fatal(err)
		}
		for _, p := range list.Items {
			if _, seen := bound[p.Name]; !seen && p.Status.Phase == corev1.ClaimBound {
				i, _ := strconv.Atoi(p.Name[len("burst-"):])
				bound[p.Name] = time.Since(created[i])
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	all := time.Since(start)
	if len(bound) < n {
		b.Fatalf("only %d of %d PVCs Bound after 3 minutes", len(bound), n)
	}
	lat := make([]time.Duration, 0, n)
	for _, l := range bound {
		lat = append(lat, l)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) time.Duration {
		return lat[min(len(lat)-1, int(p*float64(len(lat))))].Round(time.Millisecond)
	}
	perNode := map[string]int{}
	var lvs v1.LogicalVolumeList
	if err := c.List(ctx, &lvs); err == nil {
		for _, lv := range lvs.Items {
			perNode[lv.Spec.NodeName]++
		}
	}

	delStart := time.Now()
	if err := c.DeleteAllOf(ctx, &corev1.PersistentVolumeClaim{}, client.InNamespace("default")); err != nil {
		b.Fatal(err)
	}
	testutil.Eventually(b, "every PV and volume to go", func() bool {
		var pvs corev1.PersistentVolumeList
		var lvs v1.LogicalVolumeList
		return c.List(ctx, &pvs) == nil && len(pvs.Items) == 0 && c.List(ctx, &lvs) == nil && len(lvs.Items) == 0
	})
	del := time.Since(delStart)
	fmt.Printf("\n%s: %d PVCs of 1 GiB at once over 3 nodes (%v), Immediate, real csi-provisioner + kube-controller-manager at 100 QPS / 200 burst, no kubelet:\n"+
		"  all Bound after %s; per PVC p50 %s, p90 %s, max %s; deletion until every PV and volume is gone: %s\n",
		driver, n, perNode, all.Round(time.Millisecond), pct(0.5), pct(0.9), lat[len(lat)-1].Round(time.Millisecond), del.Round(time.Millisecond))
	b.ReportMetric(all.Seconds(), "all-bound-s")
	b.ReportMetric(del.Seconds(), "deletion-s")
}

// nodeDaemon gives node i its own storage: a VG on its own loop device in a
// private LVM configuration (LVM's own activation), or a btrfs pool.
func nodeDaemon(b *testing.B, driver, dir string, i int) func(ctx context.Context) (*daemon.Instance, error) {
	if driver == "topols.io" {
		mnt := testutil.Btrfs(b, 40<<30, true)
		cfg := &btrfsconfig.Config{Pools: []btrfsconfig.Pool{{Name: "fast", Path: mnt, Default: true}}}
		cfg.Default()
		return func(ctx context.Context) (*daemon.Instance, error) {
			return btrfsd.Start(ctx, cfg, testr.NewWithInterface(b, testr.Options{}))
		}
	}
	dev := testutil.LoopDevice(b, dir, 40<<30)
	env := testutil.NewLVMEnv(b, dev)
	vg := testutil.UniqueName("burst" + strconv.Itoa(i))
	env.VG(b, vg, dev)
	zero := resource.MustParse("0")
	cfg := &lvmconfig.Config{LVM: lvmconfig.LVMSettings{Path: "lvm", Env: env.EnvMap()},
		DeviceClasses: []lvmconfig.DeviceClass{{Name: "ssd", VolumeGroup: vg, Default: true, Spare: &zero}}}
	cfg.Default()
	return func(ctx context.Context) (*daemon.Instance, error) {
		return lvmd.Start(ctx, cfg, testr.NewWithInterface(b, testr.Options{}))
	}
}
