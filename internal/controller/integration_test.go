//go:build integration

package controller_test

import (
	"context"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/toposuite/toposuite/csi"
	v1 "github.com/toposuite/toposuite/internal/api/topolvm/v1"
	"github.com/toposuite/toposuite/internal/controller"
	"github.com/toposuite/toposuite/internal/testutil"
)

func TestIntegrationNodeCleanupAndLeakCollector(t *testing.T) {
	cfg, c := testutil.APIServer(t)
	d := csi.LVMDriver("topolvm.io")
	scheme, _ := controller.Scheme()
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}})
	if err != nil {
		t.Fatal(err)
	}
	log := testr.NewWithInterface(t, testr.Options{})
	if err := (&controller.NodeCleanup{Client: mgr.GetClient(), Driver: d, Log: log}).SetupWithManager(mgr); err != nil {
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
