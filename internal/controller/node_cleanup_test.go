package controller

import (
	"context"
	"testing"

	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/toposuite/toposuite/csi"
	v1 "github.com/toposuite/toposuite/internal/api/topolvm/v1"
	"github.com/toposuite/toposuite/internal/scheme"
)

// A deleted node's clean-up with and without DeleteClaims: both delete the
// node's LogicalVolumes and let the Node go; only DeleteClaims deletes the
// claim bound to one of them, and without it no claim deletion is even
// tried (the chart grants no right to delete claims then).
func TestNodeCleanupDeleteClaims(t *testing.T) {
	for _, deleteClaims := range []bool{false, true} {
		t.Run(map[bool]string{false: "claims-kept", true: "claims-deleted"}[deleteClaims], func(t *testing.T) {
			ctx := context.Background()
			d := csi.LVMDriver("topolvm.io")
			s, err := scheme.New()
			if err != nil {
				t.Fatal(err)
			}
			size := resource.MustParse("1Gi")
			lv := func(name, node string) *v1.LogicalVolume {
				return &v1.LogicalVolume{ObjectMeta: metav1.ObjectMeta{Name: name, Finalizers: []string{v1.Finalizer(d.Name)}},
					Spec: v1.LogicalVolumeSpec{DriverName: d.Name, Name: name, NodeName: node, Size: size}}
			}
			node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "gone", Finalizers: []string{d.Name + "/node"},
				Annotations: map[string]string{d.CapacityAnnotation(""): "100"}}}
			pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "data", UID: "pvc-uid"}}
			pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv-1"}, Spec: corev1.PersistentVolumeSpec{
				PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: d.Name, VolumeHandle: "pvc-on-gone"}},
				ClaimRef:               &corev1.ObjectReference{Namespace: "app", Name: "data", UID: "pvc-uid"},
			}}
			var claimDeletes int
			c := fake.NewClientBuilder().WithScheme(s).
				WithObjects(node, lv("pvc-on-gone", "gone"), lv("pvc-elsewhere", "other"), pvc, pv).
				WithInterceptorFuncs(interceptor.Funcs{Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
					if _, ok := obj.(*corev1.PersistentVolumeClaim); ok {
						claimDeletes++
					}
					return c.Delete(ctx, obj, opts...)
				}}).Build()
			if err := c.Delete(ctx, node); err != nil { // held by the finalizer
				t.Fatal(err)
			}

			r := &NodeCleanup{Client: c, Driver: d, DeleteClaims: deleteClaims, Log: testr.New(t)}
			if _, err := r.Reconcile(ctx, reconcile.Request{NamespacedName: types.NamespacedName{Name: "gone"}}); err != nil {
				t.Fatal(err)
			}

			if err := c.Get(ctx, client.ObjectKey{Name: "gone"}, &corev1.Node{}); !apierrors.IsNotFound(err) {
				t.Errorf("the Node is still held: %v", err)
			}
			if err := c.Get(ctx, client.ObjectKey{Name: "pvc-on-gone"}, &v1.LogicalVolume{}); !apierrors.IsNotFound(err) {
				t.Errorf("the deleted node's LogicalVolume is still there: %v", err)
			}
			if err := c.Get(ctx, client.ObjectKey{Name: "pvc-elsewhere"}, &v1.LogicalVolume{}); err != nil {
				t.Errorf("another node's LogicalVolume: %v", err)
			}
			err = c.Get(ctx, client.ObjectKey{Namespace: "app", Name: "data"}, &corev1.PersistentVolumeClaim{})
			switch {
			case deleteClaims && !apierrors.IsNotFound(err):
				t.Errorf("DeleteClaims on: the claim bound to the deleted node is still there (%v)", err)
			case !deleteClaims && err != nil:
				t.Errorf("DeleteClaims off: the claim is gone: %v", err)
			case !deleteClaims && claimDeletes != 0:
				t.Errorf("DeleteClaims off: %d claim deletions tried", claimDeletes)
			}
		})
	}
}
