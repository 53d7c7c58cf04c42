//go:build e2e

package operator

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/toposuite/toposuite/e2e/cluster"
	"github.com/toposuite/toposuite/internal/api/operator/v1alpha1"
	topolvmv1 "github.com/toposuite/toposuite/internal/api/topolvm/v1"
	"github.com/toposuite/toposuite/internal/testutil"
)

const (
	vg, class, pool = "opvg", "ssd", "op"
	lvmSC, btrfsSC  = "topolvm-" + class, "topols-" + pool
	gib             = int64(1) << 30
)

// spec is a TopolvmCluster with both drivers on, every image the local
// one, and a node group per node (their loop devices differ): a volume
// group on the node's first spare device, a btrfs pool on its second.
func spec(e *env, nodes []string) v1alpha1.TopolvmClusterSpec {
	tag := e.c.ImageTag()
	spare := resource.MustParse("1Gi")
	images := map[string]string{}
	for _, n := range []string{"topolvm-controller", "topolvm-node", "topols-node", "lvmd", "btrfsd", "topolvm-scheduler"} {
		images[n] = "toposuite/" + n + ":" + tag
	}
	// DEVELOPMENT ONLY: LVs get loop devices (no device-mapper here).
	raw, _ := json.Marshal(map[string]any{"lvmd": map[string]any{"config": map[string]any{"activation": "development-loop"}}})
	s := v1alpha1.TopolvmClusterSpec{
		Components: v1alpha1.Components{
			LVM:       v1alpha1.Driver{Enabled: true, ControllerReplicas: 1},
			Btrfs:     v1alpha1.Driver{Enabled: true, ControllerReplicas: 1},
			Scheduler: v1alpha1.Scheduler{Mode: v1alpha1.SchedulerStorageCapacity},
			Metrics:   v1alpha1.Toggle{Enabled: true},
		},
		Images:      v1alpha1.Images{Overrides: images, PullPolicy: "Never"},
		Alerts:      v1alpha1.AlertThresholds{WarningPercent: 75, CriticalPercent: 85},
		ChartValues: &v1alpha1.ChartValues{TopoLVM: &runtime.RawExtension{Raw: raw}},
	}
	for i, n := range nodes {
		spares := e.c.SpareDisks(n)
		s.NodeGroups = append(s.NodeGroups, v1alpha1.NodeGroup{
			Name:         fmt.Sprintf("g%d", i),
			NodeSelector: map[string]string{"kubernetes.io/hostname": n},
			VolumeGroups: []v1alpha1.VolumeGroup{{Name: vg, Devices: spares[:1]}},
			// lvmd keeps 10Gi spare by default: a whole disk here.
			DeviceClasses: []v1alpha1.DeviceClass{{Name: class, VolumeGroup: vg, Default: true, Spare: &spare}},
			Pools:         []v1alpha1.Pool{{Name: pool, Devices: spares[1:2], Default: true}},
		})
	}
	return s
}

// TestE2EOperator drives the suite through one TopolvmCluster on a
// cluster that has only blank disks, and measures what issue #7 asks.
func TestE2EOperator(t *testing.T) {
	e := up(t)
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	nodes := e.c.NodeNames()
	for _, n := range nodes {
		if d := e.c.SpareDisks(n); len(d) != 3 {
			t.Fatalf("node %s has spare disks %v, want 3", n, d)
		}
	}
	e.installOperator(ctx)

	// Apply: the volume groups and pools are built, everything runs, and a
	// PVC of each driver binds and is written to.
	tc := &v1alpha1.TopolvmCluster{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.ClusterName}, Spec: spec(e, nodes)}
	t0 := time.Now()
	if err := e.k.Create(ctx, tc); err != nil {
		t.Fatal(err)
	}
	type written struct {
		w     *cluster.Workload
		bound time.Duration
		err   error
	}
	results := map[string]chan written{}
	for _, sc := range []string{lvmSC, btrfsSC} {
		ch := make(chan written, 1)
		results[sc] = ch
		go func() {
			start := time.Since(t0)
			w, err := e.c.WriteToNewPVC(ctx, "default", "data-"+strings.Split(sc, "-")[0], sc, 8)
			if w != nil {
				ch <- written{w, start + w.Bound, err}
				return
			}
			ch <- written{nil, 0, err}
		}()
	}
	workloads := map[string]*cluster.Workload{}
	for _, sc := range []string{lvmSC, btrfsSC} {
		r := <-results[sc]
		if r.err != nil {
			t.Fatalf("PVC of %s: %v", sc, r.err)
		}
		workloads[sc] = r.w
		t.Logf("FIGURE apply TopolvmCluster -> PVC of %s Bound: %.1f s (pod done %.1f s after the PVC)", sc, r.bound.Seconds(), r.w.Done.Seconds())
		if r.w.Bytes != 8<<20 {
			t.Errorf("PVC of %s: the pod wrote %d bytes, want %d", sc, r.w.Bytes, 8<<20)
		}
	}
	ready := e.waitCondition(ctx, v1alpha1.ConditionReady, metav1.ConditionTrue, 5*time.Minute, func(tc *v1alpha1.TopolvmCluster) bool {
		for _, n := range nodes {
			ns, ok := nodeStatus(tc, n)
			v, okv := storage(ns.VolumeGroups, vg)
			p, okp := storage(ns.Pools, pool)
			if !ok || !okv || !okp || v.Size == 0 || p.Size == 0 {
				return false
			}
		}
		return true
	})
	t.Logf("Ready %.1f s after the apply", time.Since(t0).Seconds())
	for _, n := range nodes {
		spares := e.c.SpareDisks(n)
		ns, _ := nodeStatus(ready, n)
		v, _ := storage(ns.VolumeGroups, vg)
		p, _ := storage(ns.Pools, pool)
		if !slices.Equal(v.Devices, spares[:1]) || !slices.Equal(p.Devices, spares[1:2]) {
			t.Errorf("node %s: volume group on %v and pool on %v, want %v and %v", n, v.Devices, p.Devices, spares[:1], spares[1:2])
		}
		if !slices.ContainsFunc(ns.DiscoveredDevices, func(d v1alpha1.DiscoveredDevice) bool { return d.Path == spares[2] }) {
			t.Errorf("node %s: the unused %s is not among the discovered devices %+v", n, spares[2], ns.DiscoveredDevices)
		}
	}

	e.checkMetrics(ctx, `topolvm_operator_cluster_ready{cluster="topolvm"} 1`,
		fmt.Sprintf(`topolvm_operator_node_volume_group_size_bytes{cluster="topolvm",node="%s",volume_group="%s"}`, nodes[0], vg))

	// Extender: topolvm-scheduler and the pod webhooks; kube-scheduler asks
	// the extender for a pod the webhook annotated. The rest runs so too.
	e.checkExtender(ctx)

	// Grow: a device added to a node's volume group shows in
	// CSIStorageCapacity.
	grown := workloads[lvmSC].Node
	gi := slices.Index(nodes, grown)
	before := e.capacity(ctx, lvmSC, grown)
	if before <= 0 {
		t.Fatalf("no CSIStorageCapacity of %s on %s", lvmSC, grown)
	}
	tg := time.Now()
	e.updateSpec(ctx, func(s *v1alpha1.TopolvmClusterSpec) {
		spares := e.c.SpareDisks(grown)
		s.NodeGroups[gi].VolumeGroups[0].Devices = []string{spares[0], spares[2]}
	})
	e.eventually(ctx, "the grown volume group in CSIStorageCapacity", 5*time.Minute, func() (bool, string) {
		now := e.capacity(ctx, lvmSC, grown)
		return now >= before+gib, fmt.Sprintf("capacity %d, before %d", now, before)
	})
	t.Logf("FIGURE add a device -> new capacity in CSIStorageCapacity on %s: %.1f s (%d -> %d bytes)",
		grown, time.Since(tg).Seconds(), before, e.capacity(ctx, lvmSC, grown))
	e.waitCondition(ctx, v1alpha1.ConditionReady, metav1.ConditionTrue, 3*time.Minute, func(tc *v1alpha1.TopolvmCluster) bool {
		ns, _ := nodeStatus(tc, grown)
		v, _ := storage(ns.VolumeGroups, vg)
		return len(v.Devices) == 2
	})

	// Refuse: a device that holds a filesystem is refused, Degraded names
	// it, its filesystem stays, and the node keeps serving its volumes.
	other := nodes[(gi+1)%len(nodes)]
	oi := slices.Index(nodes, other)
	ext4 := e.c.SpareDisks(other)[2]
	testutil.MkfsExt4(t, ext4)
	e.updateSpec(ctx, func(s *v1alpha1.TopolvmClusterSpec) {
		s.NodeGroups[oi].VolumeGroups[0].Devices = []string{e.c.SpareDisks(other)[0], ext4}
	})
	degraded := e.waitCondition(ctx, v1alpha1.ConditionDegraded, metav1.ConditionTrue, 5*time.Minute, func(tc *v1alpha1.TopolvmCluster) bool {
		c := meta.FindStatusCondition(tc.Status.Conditions, v1alpha1.ConditionDegraded)
		return c.Reason == v1alpha1.ReasonDeviceRefused && strings.Contains(c.Message, ext4) && strings.Contains(c.Message, "ext4")
	})
	t.Logf("Degraded: %s", meta.FindStatusCondition(degraded.Status.Conditions, v1alpha1.ConditionDegraded).Message)
	if sigs := testutil.Signatures(t, ext4); !slices.Contains(sigs, "ext4") {
		t.Errorf("%s's signatures are %v: its ext4 filesystem was touched", ext4, sigs)
	}
	e.waitCondition(ctx, v1alpha1.ConditionProgressing, metav1.ConditionFalse, 3*time.Minute, nil)
	if _, err := e.c.WriteToNewPVC(ctx, "default", "after-refusal", lvmSC, 8); err != nil {
		t.Errorf("a PVC after the refusal: %v", err)
	}

	// Off: TopoLS's objects are pruned (its volume first, as a user would).
	e.deleteWorkload(ctx, workloads[btrfsSC])
	e.updateSpec(ctx, func(s *v1alpha1.TopolvmClusterSpec) {
		s.Components.Btrfs.Enabled = false
		for i := range s.NodeGroups {
			s.NodeGroups[i].Pools = nil
		}
	})
	e.eventually(ctx, "TopoLS's objects pruned", 3*time.Minute, func() (bool, string) {
		left := e.workloads(ctx, "topols")
		var d storagev1.CSIDriver
		err := e.k.Get(ctx, client.ObjectKey{Name: "topols.io"}, &d)
		return len(left) == 0 && apierrors.IsNotFound(err), fmt.Sprintf("workloads %v, CSIDriver: %v", left, err)
	})
	if left := e.workloads(ctx, "topolvm-"); len(left) != 2+len(nodes) {
		t.Errorf("TopoLVM's workloads after TopoLS went: %v, want its controller, the extender and a node DaemonSet per group", left)
	}

	// Delete: everything the operator made goes, the volumes stay.
	var lvs topolvmv1.LogicalVolumeList
	if err := e.k.List(ctx, &lvs); err != nil || len(lvs.Items) == 0 {
		t.Fatalf("LogicalVolumes before the delete: %d (%v)", len(lvs.Items), err)
	}
	tc, _ = e.cluster(ctx)
	if err := e.k.Delete(ctx, tc); err != nil {
		t.Fatal(err)
	}
	e.eventually(ctx, "the TopolvmCluster and what it made gone", 3*time.Minute, func() (bool, string) {
		_, err := e.cluster(ctx)
		left := e.workloads(ctx, "topo")
		var d storagev1.CSIDriver
		derr := e.k.Get(ctx, client.ObjectKey{Name: "topolvm.io"}, &d)
		return apierrors.IsNotFound(err) && len(left) == 0 && apierrors.IsNotFound(derr),
			fmt.Sprintf("cluster: %v, workloads %v, CSIDriver: %v", err, left, derr)
	})
	var crd apiextensionsv1.CustomResourceDefinition
	if err := e.k.Get(ctx, client.ObjectKey{Name: "logicalvolumes.topolvm.io"}, &crd); err != nil {
		t.Errorf("the LogicalVolume CRD: %v", err)
	}
	var after topolvmv1.LogicalVolumeList
	if err := e.k.List(ctx, &after); err != nil || len(after.Items) != len(lvs.Items) {
		t.Errorf("LogicalVolumes after the delete: %d of %d (%v)", len(after.Items), len(lvs.Items), err)
	}
	if out, err := e.c.InNode(ctx, grown, "lvm", "lvs", "--noheadings", "-o", "lv_name", vg); err != nil || strings.TrimSpace(out) == "" {
		t.Errorf("LVs in %s on %s after the delete: %q (%v)", vg, grown, out, err)
	}
}

// deleteWorkload deletes a written PVC's pod and the PVC, and waits for
// its PersistentVolume to go.
func (e *env) deleteWorkload(ctx context.Context, w *cluster.Workload) {
	e.t.Helper()
	_ = e.k.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: w.Namespace, Name: w.Pod}}, client.GracePeriodSeconds(0))
	_ = e.k.Delete(ctx, &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: w.Namespace, Name: w.PVC}})
	e.eventually(ctx, "PV "+w.PV+" deleted", 2*time.Minute, func() (bool, string) {
		var pv corev1.PersistentVolume
		err := e.k.Get(ctx, client.ObjectKey{Name: w.PV}, &pv)
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
}

// checkMetrics reads the operator's /metrics through the API server's pod
// proxy and checks that each of want is on it.
func (e *env) checkMetrics(ctx context.Context, want ...string) {
	e.t.Helper()
	b := e.podMetrics(ctx, "app.kubernetes.io/component=operator", "8080")[0]
	for _, w := range want {
		if !strings.Contains(b, w) {
			e.t.Errorf("the operator's /metrics has no %s", w)
		}
	}
}
