//go:build integration

package controller_test

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1 "github.com/toposuite/toposuite/internal/api/topolvm/v1"
	"github.com/toposuite/toposuite/internal/controller"
	"github.com/toposuite/toposuite/internal/scheme"
	"github.com/toposuite/toposuite/internal/testutil"
)

// A CreateVolume repeated for a volume whose LogicalVolume is being deleted
// (the leak collector took it after the first answer was lost, and
// csi-provisioner retries the claim) is not answered with the volume on
// its way out: the store waits until it is gone, makes it anew and answers
// with the new one once the node made it.
func TestIntegrationStoreRecreatesVolumeBeingDeleted(t *testing.T) {
	store, c := startStore(t, nil)
	bg := testutil.Context(t)
	const name = "pvc-doomed"
	spec := v1.LogicalVolumeSpec{DriverName: "topolvm.io", Name: name, NodeName: "n1", Size: resource.MustParse("1Gi")}
	newLV := func() *v1.LogicalVolume {
		return &v1.LogicalVolume{ObjectMeta: metav1.ObjectMeta{Name: name, Finalizers: []string{"topolvm.io/logicalvolume"}}, Spec: spec}
	}
	// The node made the volume; then the object is deleted, the node's
	// finalizer holding it.
	old := newLV()
	if err := c.Create(bg, old); err != nil {
		t.Fatal(err)
	}
	old.Status.VolumeID = name
	if err := c.Status().Update(bg, old); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(bg, old); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the cache sees the volume being deleted", func() bool {
		lv, err := store.Get(bg, name)
		return err == nil && !lv.DeletionTimestamp.IsZero() && lv.Status.VolumeID != ""
	})

	answer := make(chan *v1.LogicalVolume, 1)
	errs := make(chan error, 1)
	go func() {
		lv, err := store.CreateAndWait(bg, newLV())
		if err != nil {
			errs <- err
			return
		}
		answer <- lv
	}()
	// The node removes the old volume and its finalizer; then, when the
	// new object appears, makes the new volume.
	var got v1.LogicalVolume
	if err := c.Get(bg, client.ObjectKey{Name: name}, &got); err != nil {
		t.Fatal(err)
	}
	got.Finalizers = nil
	if err := c.Update(bg, &got); err != nil {
		t.Fatal(err)
	}
	var fresh v1.LogicalVolume
	for {
		select {
		case lv := <-answer:
			t.Fatalf("answered with the volume being deleted (uid %s, old %s, deletion %v) before a new one was made", lv.UID, old.UID, lv.DeletionTimestamp)
		case err := <-errs:
			t.Fatal(err)
		default:
		}
		if err := c.Get(bg, client.ObjectKey{Name: name}, &fresh); err == nil && fresh.UID != old.UID {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	fresh.Status.VolumeID = name
	if err := c.Status().Update(bg, &fresh); err != nil {
		t.Fatal(err)
	}
	select {
	case lv := <-answer:
		if lv.UID != fresh.UID || !lv.DeletionTimestamp.IsZero() {
			t.Errorf("answered with uid %s (deletion %v), want the new volume %s", lv.UID, lv.DeletionTimestamp, fresh.UID)
		}
	case err := <-errs:
		t.Fatal(err)
	case <-bg.Done():
		t.Fatal(bg.Err())
	}
}

// startStore starts a manager on a fresh API server and a Store of
// topolvm.io on it, its writes going through wrap (nil: the manager's
// client as it is); it returns the store and a client of the API server.
func startStore(t *testing.T, wrap func(client.Client) client.Client) (*controller.Store, client.Client) {
	t.Helper()
	cfg, c := testutil.APIServer(t)
	sch, _ := scheme.New()
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: sch, Metrics: metricsserver.Options{BindAddress: "0"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	writer := mgr.GetClient()
	if wrap != nil {
		writer = wrap(writer)
	}
	store, err := controller.NewStore(ctx, writer, mgr.GetCache(), "topolvm.io")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	mgr.GetCache().WaitForCacheSync(ctx)
	return store, c
}
