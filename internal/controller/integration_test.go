//go:build integration

package controller_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/toposuite/toposuite/csi"
	v1 "github.com/toposuite/toposuite/internal/api/topolvm/v1"
	"github.com/toposuite/toposuite/internal/controller"
	"github.com/toposuite/toposuite/internal/daemon"
	"github.com/toposuite/toposuite/internal/scheme"
	"github.com/toposuite/toposuite/internal/testutil"
)

func TestIntegrationNodeCleanupAndLeakCollector(t *testing.T) {
	cfg, c := testutil.APIServer(t)
	d := csi.LVMDriver("topolvm.io")
	scheme, _ := scheme.New()
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}})
	if err != nil {
		t.Fatal(err)
	}
	log := testr.NewWithInterface(t, testr.Options{})
	// DeleteClaims: the claim of the deleted node's volume is deleted too (checked below).
	if err := (&controller.NodeCleanup{Client: mgr.GetClient(), Driver: d, DeleteClaims: true, Log: log}).SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	if err := (&controller.LeakCollector{Client: mgr.GetClient(), Driver: d, Grace: 2 * time.Second, Log: log}).SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	bg := context.Background()

	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Annotations: map[string]string{d.CapacityAnnotation(""): "100"}}}
	other := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n2"}} // runs no driver of ours
	for _, n := range []*corev1.Node{node, other} {
		if err := c.Create(bg, n); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, "node finalizer", func() bool {
		var n corev1.Node
		return c.Get(bg, client.ObjectKey{Name: "n1"}, &n) == nil && len(n.Finalizers) == 1
	})

	size := resource.MustParse("1Gi")
	mkLV := func(name, node string) *v1.LogicalVolume {
		lv := &v1.LogicalVolume{ObjectMeta: metav1.ObjectMeta{Name: name, Finalizers: []string{"topolvm.io/logicalvolume"}},
			Spec: v1.LogicalVolumeSpec{DriverName: d.Name, Name: name, NodeName: node, Size: size}}
		if err := c.Create(bg, lv); err != nil {
			t.Fatal(err)
		}
		return lv
	}
	mkLV("pvc-bound", "n1")
	ns := "default"
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: ns},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}}}}
	if err := c.Create(bg, pvc); err != nil {
		t.Fatal(err)
	}
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pvc-bound"},
		Spec: corev1.PersistentVolumeSpec{
			Capacity: corev1.ResourceList{corev1.ResourceStorage: size}, AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: d.Name, VolumeHandle: "pvc-bound"}},
			ClaimRef:               &corev1.ObjectReference{Namespace: ns, Name: "data", UID: pvc.UID},
		}}
	if err := c.Create(bg, pv); err != nil {
		t.Fatal(err)
	}

	// A LogicalVolume nothing refers to goes after its grace period; one with a PV stays.
	mkLV("pvc-leaked", "n2")
	testutil.Eventually(t, "leaked LogicalVolume to be deleted", func() bool {
		var lv v1.LogicalVolume
		err := c.Get(bg, client.ObjectKey{Name: "pvc-leaked"}, &lv)
		return err == nil && !lv.DeletionTimestamp.IsZero()
	})
	var kept v1.LogicalVolume
	if err := c.Get(bg, client.ObjectKey{Name: "pvc-bound"}, &kept); err != nil || !kept.DeletionTimestamp.IsZero() {
		t.Fatalf("a LogicalVolume with a PV was collected: %v", err)
	}

	// Deleting the node deletes its LogicalVolumes and the PVCs bound to them, then lets the node go.
	if err := c.Delete(bg, node); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "node to go", func() bool { return c.Get(bg, client.ObjectKey{Name: "n1"}, &corev1.Node{}) != nil })
	testutil.Eventually(t, "its LogicalVolume to go", func() bool { return c.Get(bg, client.ObjectKey{Name: "pvc-bound"}, &v1.LogicalVolume{}) != nil })
	var got corev1.PersistentVolumeClaim
	if err := c.Get(bg, client.ObjectKey{Namespace: ns, Name: "data"}, &got); err == nil && got.DeletionTimestamp.IsZero() {
		t.Error("the PVC bound to the deleted node was not deleted")
	}
}

// TestIntegrationCapacityRevision runs the node plugin over a real storage
// daemon and API server and checks the capacity contract with the
// scheduler extender: the moment a LogicalVolume becomes ready (or grown),
// its status.capacityRevision is set, and the Node's capacity annotation
// counts every volume whose revision the Node's revision annotation has
// reached (the extender subtracts the others); the Node soon reaches
// every revision handed out.
func TestIntegrationCapacityRevision(t *testing.T) {
	t.Run("lvm", func(t *testing.T) {
		_, _, start := lvmdOnLoop(t, "revvg")
		capacityRevisions(t, csi.LVMDriver("topolvm.io"), start)
	})
	t.Run("btrfs", func(t *testing.T) {
		testutil.RequireRoot(t)
		capacityRevisions(t, csi.BtrfsDriver("topols.io"), btrfsPool(t))
	})
}

func capacityRevisions(t *testing.T, d csi.Driver, start func(context.Context) (*daemon.Instance, error)) {
	const node, n, size = "node-1", 8, 16 << 20
	cfg, c := testutil.APIServer(t)
	testutil.Node(t, c, node)
	runNodePlugin(t, cfg, d, node, start)
	bg := testutil.Context(t)
	// The Node's default class figures and revision, read straight from the API server.
	nodeState := func() (free, rev int64) {
		t.Helper()
		var no corev1.Node
		if err := c.Get(bg, client.ObjectKey{Name: node}, &no); err != nil {
			t.Fatal(err)
		}
		free, _ = strconv.ParseInt(no.Annotations[d.CapacityAnnotation("")], 10, 64)
		rev, _ = strconv.ParseInt(no.Annotations[d.CapacityRevisionAnnotation()], 10, 64)
		return free, rev
	}
	testutil.Eventually(t, "the first capacity annotations", func() bool { free, rev := nodeState(); return free > 0 && rev > 0 })
	free0, _ := nodeState()

	s, _ := scheme.New()
	wc, err := client.NewWithWatch(cfg, client.Options{Scheme: s})
	if err != nil {
		t.Fatal(err)
	}
	w, err := wc.Watch(bg, &v1.LogicalVolumeList{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	// counted are the bytes each ready or grown volume adds, by the
	// revision its status names: the Node counts them from that revision on.
	type step struct{ rev, bytes int64 }
	var counted []step
	// check waits for LogicalVolumes to reach a state and, at the event
	// that shows it, reads the Node: the figures and the volumes the Node
	// does not count yet (a capacityRevision above its revision, which the
	// scheduler extender subtracts) never show more room than there is.
	lastRev := int64(0)
	check := func(what string, names map[string]bool, reached func(*v1.LogicalVolume) bool, bytes int64) {
		t.Helper()
		for len(names) > 0 {
			var ev watch.Event
			select {
			case ev = <-w.ResultChan():
			case <-bg.Done():
				t.Fatalf("timed out waiting for %d LogicalVolumes to be %s", len(names), what)
			}
			lv, ok := ev.Object.(*v1.LogicalVolume)
			if !ok || !names[lv.Name] {
				continue
			}
			if lv.Status.Code != "" {
				t.Fatalf("%s: %s: %s", lv.Name, lv.Status.Code, lv.Status.Message)
			}
			if !reached(lv) {
				continue
			}
			delete(names, lv.Name)
			if lv.Status.CapacityRevision <= 0 {
				t.Errorf("%s %s without a capacityRevision", lv.Name, what)
			}
			counted = append(counted, step{lv.Status.CapacityRevision, bytes})
			free, rev := nodeState()
			if rev < lastRev {
				t.Errorf("the Node's revision went back from %d to %d", lastRev, rev)
			}
			lastRev = rev
			var shown int64
			for _, s := range counted {
				if s.rev <= rev {
					shown += s.bytes
				}
			}
			if want := free0 - shown; free > want {
				t.Errorf("%s %s: the Node shows %d bytes free at revision %d, want at most %d", lv.Name, what, free, rev, want)
			}
		}
	}
	// kept waits until the Node shows every revision handed out.
	kept := func() {
		t.Helper()
		var last int64
		for _, s := range counted {
			last = max(last, s.rev)
		}
		testutil.Eventually(t, "the Node to reach every volume's capacityRevision", func() bool { _, rev := nodeState(); return rev >= last })
	}

	names := map[string]bool{}
	for i := range n {
		name := "pvc-rev-" + strconv.Itoa(i)
		names[name] = true
		lv := &v1.LogicalVolume{ObjectMeta: metav1.ObjectMeta{Name: name, Finalizers: []string{v1.Finalizer(d.Name)}},
			Spec: v1.LogicalVolumeSpec{DriverName: d.Name, Name: name, NodeName: node, Size: *resource.NewQuantity(size, resource.BinarySI)}}
		if err := c.Create(bg, lv); err != nil {
			t.Fatal(err)
		}
	}
	check("ready", names, func(lv *v1.LogicalVolume) bool { return lv.Status.VolumeID != "" }, size)
	kept()
	if free, _ := nodeState(); free != free0-n*size {
		t.Errorf("the Node shows %d bytes free once it reached every revision, want %d", free, free0-n*size)
	}

	// Growing a volume: the new revision counts the new size.
	var lv v1.LogicalVolume
	if err := c.Get(bg, client.ObjectKey{Name: "pvc-rev-0"}, &lv); err != nil {
		t.Fatal(err)
	}
	before := lv.Status.CapacityRevision
	patch := client.MergeFrom(lv.DeepCopy())
	lv.Spec.Size = *resource.NewQuantity(2*size, resource.BinarySI)
	if err := c.Patch(bg, &lv, patch); err != nil {
		t.Fatal(err)
	}
	check("grown", map[string]bool{lv.Name: true}, func(lv *v1.LogicalVolume) bool {
		return lv.Status.CurrentSize != nil && lv.Status.CurrentSize.Value() == 2*size
	}, size)
	kept()
	if err := c.Get(bg, client.ObjectKey{Name: lv.Name}, &lv); err != nil || lv.Status.CapacityRevision <= before {
		t.Errorf("capacityRevision %d after growing, %d before (%v)", lv.Status.CapacityRevision, before, err)
	}

	// Removal needs no revision; the figures come back all the same.
	for i := range n {
		if err := c.Delete(bg, &v1.LogicalVolume{ObjectMeta: metav1.ObjectMeta{Name: "pvc-rev-" + strconv.Itoa(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, "the volumes to go", func() bool {
		var list v1.LogicalVolumeList
		return c.List(bg, &list) == nil && len(list.Items) == 0
	})
	testutil.Eventually(t, "the Node to show the space again", func() bool { free, _ := nodeState(); return free == free0 })
}
