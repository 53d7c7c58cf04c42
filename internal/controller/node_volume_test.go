package controller

import (
	"context"
	"errors"
	"testing"

	"github.com/go-logr/logr/testr"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/toposuite/toposuite/internal/api/topolvm/v1"
	api "github.com/toposuite/toposuite/internal/daemonapi"
	"github.com/toposuite/toposuite/internal/scheme"
)

// fakePromiser stands for the CapacityPublisher: it hands out revisions
// and records what the daemon had done when it was called.
type fakePromiser struct {
	rev   int64
	err   error
	calls int
	// seen is what the daemon had made when Promise was called.
	seen func() string
	saw  []string
}

func (s *fakePromiser) Promise(context.Context) (int64, error) {
	s.calls++
	if s.seen != nil {
		s.saw = append(s.saw, s.seen())
	}
	if s.err != nil {
		return 0, s.err
	}
	s.rev++
	return s.rev, nil
}

func reconcilerRig(t *testing.T, capacity CapacityPromiser) (*NodeVolumeReconciler, client.Client, *fakeDaemon, *string) {
	t.Helper()
	s, err := scheme.New()
	if err != nil {
		t.Fatal(err)
	}
	lv := &v1.LogicalVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "pvc-1", Finalizers: []string{v1.Finalizer("topolvm.io")}},
		Spec:       v1.LogicalVolumeSpec{DriverName: "topolvm.io", Name: "pvc-1", NodeName: testNode, DeviceClass: "ssd", Size: resource.MustParse("1Gi")},
	}
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(lv).WithStatusSubresource(&v1.LogicalVolume{}).Build()
	made := new(string) // what the daemon did last
	d := &fakeDaemon{
		create: func(r *api.CreateVolumeRequest) (*api.VolumeResponse, error) {
			*made = "created"
			return &api.VolumeResponse{Volume: &api.Volume{Name: r.GetName(), SizeBytes: r.GetSizeBytes()}}, nil
		},
		resize: func(r *api.ResizeVolumeRequest) (*api.VolumeResponse, error) {
			*made = "resized"
			return &api.VolumeResponse{Volume: &api.Volume{Name: r.GetName(), SizeBytes: r.GetSizeBytes()}}, nil
		},
	}
	rec := &NodeVolumeReconciler{Client: c, Daemon: d, Driver: "topolvm.io", NodeName: testNode, Log: testr.New(t), Capacity: capacity}
	return rec, c, d, made
}

func reconcileLV(t *testing.T, rec *NodeVolumeReconciler, c client.Client) (*v1.LogicalVolume, error) {
	t.Helper()
	_, err := rec.Reconcile(context.Background(), reconcile.Request{NamespacedName: types.NamespacedName{Name: "pvc-1"}})
	var lv v1.LogicalVolume
	if gerr := c.Get(context.Background(), client.ObjectKey{Name: "pvc-1"}, &lv); gerr != nil {
		t.Fatal(gerr)
	}
	return &lv, err
}

// A volume's capacity revision is promised after the daemon made it and
// before its status says it exists, and the status names it; a resize
// alike.
func TestReconcilerRecordsCapacityRevision(t *testing.T) {
	promiser := &fakePromiser{rev: 41}
	rec, c, _, made := reconcilerRig(t, promiser)
	promiser.seen = func() string {
		var lv v1.LogicalVolume
		_ = c.Get(context.Background(), client.ObjectKey{Name: "pvc-1"}, &lv)
		return *made + ", volumeID " + lv.Status.VolumeID
	}
	lv, err := reconcileLV(t, rec, c)
	if err != nil {
		t.Fatal(err)
	}
	if lv.Status.VolumeID != "pvc-1" || lv.Status.CapacityRevision != 42 {
		t.Errorf("status after create: %+v, want volumeID pvc-1 and capacityRevision 42", lv.Status)
	}

	patch := client.MergeFrom(lv.DeepCopy())
	lv.Spec.Size = resource.MustParse("2Gi")
	if err := c.Patch(context.Background(), lv, patch); err != nil {
		t.Fatal(err)
	}
	lv, err = reconcileLV(t, rec, c)
	if err != nil {
		t.Fatal(err)
	}
	if lv.Status.CurrentSize.Value() != 2<<30 || lv.Status.CapacityRevision != 43 {
		t.Errorf("status after resize: %+v, want currentSize 2Gi and capacityRevision 43", lv.Status)
	}
	want := []string{"created, volumeID ", "resized, volumeID pvc-1"}
	if len(promiser.saw) != 2 || promiser.saw[0] != want[0] || promiser.saw[1] != want[1] {
		t.Errorf("Promise saw %q, want %q", promiser.saw, want)
	}

	// Nothing changed: no Promise.
	if _, err := reconcileLV(t, rec, c); err != nil || promiser.calls != 2 {
		t.Errorf("a reconcile without work: %v, %d Promises", err, promiser.calls)
	}
}

// When no capacity revision can be promised, the status is not written:
// the reconcile is retried (creating is idempotent) instead of making the
// volume known with a revision that may not count it.
func TestReconcilerRetriesWhenCapacityFails(t *testing.T) {
	promiser := &fakePromiser{err: errors.New("Node not found")}
	rec, c, _, _ := reconcilerRig(t, promiser)
	lv, err := reconcileLV(t, rec, c)
	if err == nil || lv.Status.VolumeID != "" {
		t.Fatalf("Promise failed, yet reconcile returned %v with status %+v", err, lv.Status)
	}
	promiser.err = nil
	if lv, err = reconcileLV(t, rec, c); err != nil || lv.Status.VolumeID != "pvc-1" || lv.Status.CapacityRevision != 1 {
		t.Errorf("the retry: %v, status %+v", err, lv.Status)
	}
}

// Without a publisher (tests) volumes are made and capacityRevision stays 0.
func TestReconcilerWithoutCapacity(t *testing.T) {
	rec, c, _, _ := reconcilerRig(t, nil)
	lv, err := reconcileLV(t, rec, c)
	if err != nil || lv.Status.VolumeID != "pvc-1" || lv.Status.CapacityRevision != 0 {
		t.Errorf("reconcile: %v, status %+v", err, lv.Status)
	}
}

// Released queues the volume for the reconciler (as one of this node's and
// driver's, so that the event filter lets it through) and never blocks.
func TestReleasedQueuesWithoutBlocking(t *testing.T) {
	r := &NodeVolumeReconciler{Driver: "topolvm.io", NodeName: testNode}
	r.Released("pvc-1") // before SetupWithManager: nothing to tell
	r.released = make(chan event.TypedGenericEvent[*v1.LogicalVolume], 1)
	r.Released("pvc-1")
	r.Released("pvc-2") // the buffer is full: dropped, the back-off remains
	got := (<-r.released).Object
	if got.Name != "pvc-1" || got.Spec.NodeName != testNode || got.Spec.DriverName != "topolvm.io" {
		t.Errorf("queued %s on %q for %q", got.Name, got.Spec.NodeName, got.Spec.DriverName)
	}
	if len(r.released) != 0 {
		t.Errorf("%d more queued, want none", len(r.released))
	}
}
