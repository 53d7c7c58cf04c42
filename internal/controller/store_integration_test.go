//go:build integration

package controller_test

import (
	"context"
	"sync/atomic"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/toposuite/toposuite/internal/api/topolvm/v1"
	"github.com/toposuite/toposuite/internal/testutil"
)

// deleteCounter counts the delete requests made through it.
type deleteCounter struct {
	client.Client
	n atomic.Int32
}

func (c *deleteCounter) Delete(ctx context.Context, obj client.Object, opts ...client.DeleteOption) error {
	c.n.Add(1)
	return c.Client.Delete(ctx, obj, opts...)
}

// A DeleteVolume repeated while the node has not removed the volume yet
// (csi-provisioner does that in bursts) makes no second delete request, and
// one for a volume gone makes none at all.
func TestIntegrationStoreDeletesOnce(t *testing.T) {
	var counter *deleteCounter
	store, c := startStore(t, func(w client.Client) client.Client { counter = &deleteCounter{Client: w}; return counter })

	bg := testutil.Context(t)
	lv := &v1.LogicalVolume{ObjectMeta: metav1.ObjectMeta{Name: "pvc-once", Finalizers: []string{"topolvm.io/logicalvolume"}},
		Spec: v1.LogicalVolumeSpec{DriverName: "topolvm.io", Name: "pvc-once", NodeName: "n1", Size: resource.MustParse("1Gi")}}
	if err := c.Create(bg, lv); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the cache has the volume", func() bool { _, err := store.Get(bg, "pvc-once"); return err == nil })
	for i := range 3 {
		if err := store.Delete(bg, "pvc-once"); err != nil {
			t.Fatalf("delete %d: %v", i+1, err)
		}
	}
	if n := counter.n.Load(); n != 1 {
		t.Errorf("%d delete requests for three deletes of a volume the node still holds, want 1", n)
	}
	var got v1.LogicalVolume
	if err := c.Get(bg, client.ObjectKey{Name: "pvc-once"}, &got); err != nil || got.DeletionTimestamp.IsZero() {
		t.Fatalf("volume after the deletes: %+v, %v; want it being deleted", got.ObjectMeta, err)
	}
	got.Finalizers = nil // the node removed it
	if err := c.Update(bg, &got); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the cache sees the volume gone", func() bool { _, err := store.Get(bg, "pvc-once"); return err != nil })
	if err := store.Delete(bg, "pvc-once"); err != nil {
		t.Fatal(err)
	}
	if n := counter.n.Load(); n != 1 {
		t.Errorf("%d delete requests after deleting a volume gone, want 1", n)
	}
}
