package bench

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Namespace is where the benchmark's PVCs and pods live.
const Namespace = "bench"

// Marks are the moments this process saw a PVC's objects change (watch
// events, stamped on arrival: the API's own timestamps have whole seconds
// only). The hops between them are the PVC's path through the system.
type Marks struct {
	// Created: the create request was sent. Deleted: the delete request.
	Created, Deleted time.Time
	// Answered: kube-apiserver answered the create request (the PVC exists).
	Answered time.Time
	// Provisioner: the PVC was annotated with its provisioner (by fast
	// binding or kube-controller-manager's PV controller). Selected: kube-scheduler chose
	// a node (WaitForFirstConsumer).
	Provisioner, Selected time.Time
	// LVCreated: the driver's controller made the LogicalVolume (in
	// CreateVolume, called by csi-provisioner). LVReady: the node plugin
	// set status.volumeID, the volume exists on the node.
	LVCreated, LVReady time.Time
	// PVCreated: csi-provisioner made the PV. Bound: the PVC was bound to
	// it (by fast binding or kube-controller-manager).
	PVCreated, Bound time.Time
	// PVCGone: the PVC was deleted (kube-controller-manager's PVC
	// protection let it go). PVReleased: the PV of a deleted PVC was
	// released (by fast binding or kube-controller-manager). LVDeleting: the driver's controller deleted the LogicalVolume
	// (in DeleteVolume); the node still has to remove the volume.
	PVCGone, PVReleased, LVDeleting time.Time
	// PVGone, LVGone: the PV and LogicalVolume objects were deleted.
	PVGone, LVGone time.Time
	// Node is the LogicalVolume's node.
	Node string
}

// Timeline records the Marks of every PVC in Namespace, its PV and its
// LogicalVolume (named pvc-<PVC UID> by both drivers), and which of the
// namespace's pods run.
type Timeline struct {
	mu    sync.Mutex
	byUID map[string]*Marks
	// pods are Namespace's pods by name: whether each runs.
	pods map[string]bool
	// waiters are woken on every change.
	changed chan struct{}
}

// LogicalVolumes is the LogicalVolume resource of both drivers.
var LogicalVolumes = schema.GroupVersionResource{Group: "topolvm.io", Version: "v1", Resource: "logicalvolumes"}

// StartTimeline watches PVCs, pods, PVs and LogicalVolumes until ctx ends and
// returns once the caches are filled.
func StartTimeline(ctx context.Context, cs kubernetes.Interface, dyn dynamic.Interface) (*Timeline, error) {
	tl := &Timeline{byUID: map[string]*Marks{}, pods: map[string]bool{}, changed: make(chan struct{})}
	f := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(Namespace))
	pvcs := f.Core().V1().PersistentVolumeClaims().Informer()
	if _, err := pvcs.AddEventHandler(events(tl.pvc)); err != nil {
		return nil, err
	}
	// The pods are watched, not listed again and again: a list of 100
	// pods every few milliseconds would load the API server it measures.
	pods := f.Core().V1().Pods().Informer()
	if _, err := pods.AddEventHandler(events(tl.pod)); err != nil {
		return nil, err
	}
	g := informers.NewSharedInformerFactory(cs, 0)
	pvs := g.Core().V1().PersistentVolumes().Informer()
	if _, err := pvs.AddEventHandler(events(tl.pv)); err != nil {
		return nil, err
	}
	d := dynamicinformer.NewDynamicSharedInformerFactory(dyn, 0)
	lvs := d.ForResource(LogicalVolumes).Informer()
	if _, err := lvs.AddEventHandler(events(tl.lv)); err != nil {
		return nil, err
	}
	f.Start(ctx.Done())
	g.Start(ctx.Done())
	d.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), pvcs.HasSynced, pods.HasSynced, pvs.HasSynced, lvs.HasSynced) {
		return nil, fmt.Errorf("watching PVCs, pods, PVs and LogicalVolumes: %w", ctx.Err())
	}
	return tl, nil
}

// events hands an informer's adds, updates and deletes to f, a deleted
// object's last state unwrapped when the watch missed its deletion.
func events(f func(o any, deleted bool)) cache.ResourceEventHandlerFuncs {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { f(o, false) },
		UpdateFunc: func(_, o any) { f(o, false) },
		DeleteFunc: func(o any) {
			if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
				o = t.Obj
			}
			f(o, true)
		},
	}
}

// marks returns the Marks of a PVC UID, made on first use; call with mu held.
func (tl *Timeline) marks(uid string) *Marks {
	m := tl.byUID[uid]
	if m == nil {
		m = &Marks{}
		tl.byUID[uid] = m
	}
	return m
}

func (tl *Timeline) update(f func(now time.Time)) {
	now := time.Now()
	tl.mu.Lock()
	f(now)
	close(tl.changed)
	tl.changed = make(chan struct{})
	tl.mu.Unlock()
}

func setOnce(t *time.Time, now time.Time) {
	if t.IsZero() {
		*t = now
	}
}

func (tl *Timeline) pvc(o any, deleted bool) {
	p, ok := o.(*corev1.PersistentVolumeClaim)
	if !ok {
		return
	}
	tl.update(func(now time.Time) {
		m := tl.marks(string(p.UID))
		if p.Annotations["volume.kubernetes.io/storage-provisioner"] != "" {
			setOnce(&m.Provisioner, now)
		}
		if p.Annotations["volume.kubernetes.io/selected-node"] != "" {
			setOnce(&m.Selected, now)
		}
		if p.Status.Phase == corev1.ClaimBound {
			setOnce(&m.Bound, now)
		}
		if deleted {
			setOnce(&m.PVCGone, now)
		}
	})
}

func (tl *Timeline) pod(o any, deleted bool) {
	p, ok := o.(*corev1.Pod)
	if !ok {
		return
	}
	tl.update(func(time.Time) {
		if deleted {
			delete(tl.pods, p.Name)
		} else {
			tl.pods[p.Name] = p.Status.Phase == corev1.PodRunning
		}
	})
}

func (tl *Timeline) pv(o any, deleted bool) {
	p, ok := o.(*corev1.PersistentVolume)
	if !ok || p.Spec.ClaimRef == nil || p.Spec.ClaimRef.Namespace != Namespace {
		return
	}
	tl.update(func(now time.Time) {
		m := tl.marks(string(p.Spec.ClaimRef.UID))
		setOnce(&m.PVCreated, now)
		if p.Status.Phase == corev1.VolumeReleased {
			setOnce(&m.PVReleased, now)
		}
		if deleted {
			setOnce(&m.PVGone, now)
		}
	})
}

func (tl *Timeline) lv(o any, deleted bool) {
	u, ok := o.(*unstructured.Unstructured)
	if !ok {
		return
	}
	uid, ok := strings.CutPrefix(u.GetName(), "pvc-")
	if !ok {
		return
	}
	id, _, _ := unstructured.NestedString(u.Object, "status", "volumeID")
	node, _, _ := unstructured.NestedString(u.Object, "spec", "nodeName")
	tl.update(func(now time.Time) {
		m := tl.marks(uid)
		m.Node = node
		setOnce(&m.LVCreated, now)
		if id != "" {
			setOnce(&m.LVReady, now)
		}
		if u.GetDeletionTimestamp() != nil {
			setOnce(&m.LVDeleting, now)
		}
		if deleted {
			setOnce(&m.LVGone, now)
		}
	})
}

// SetCreated and SetDeleted stamp the requests of the benchmark itself:
// sent at t, the create answered at answered.
func (tl *Timeline) SetCreated(uid string, t, answered time.Time) {
	tl.update(func(time.Time) {
		m := tl.marks(uid)
		m.Created, m.Answered = t, answered
	})
}

func (tl *Timeline) SetDeleted(uid string, t time.Time) {
	tl.update(func(time.Time) { tl.marks(uid).Deleted = t })
}

// Wait blocks until cond holds over the marks of uids (given a copy), or
// ctx ends.
func (tl *Timeline) Wait(ctx context.Context, uids []string, cond func(m []Marks) bool) error {
	for {
		tl.mu.Lock()
		ch := tl.changed
		ms := tl.get(uids)
		tl.mu.Unlock()
		if cond(ms) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// WaitPods blocks until cond holds over the number of Namespace's pods and
// of those running, or ctx ends; it returns the last numbers.
func (tl *Timeline) WaitPods(ctx context.Context, cond func(all, running int) bool) (all, running int, err error) {
	for {
		tl.mu.Lock()
		ch := tl.changed
		all, running = len(tl.pods), 0
		for _, r := range tl.pods {
			if r {
				running++
			}
		}
		tl.mu.Unlock()
		if cond(all, running) {
			return all, running, nil
		}
		select {
		case <-ctx.Done():
			return all, running, ctx.Err()
		case <-ch:
		}
	}
}

// Get returns a copy of the marks of uids, in order.
func (tl *Timeline) Get(uids []string) []Marks {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return tl.get(uids)
}

func (tl *Timeline) get(uids []string) []Marks {
	out := make([]Marks, len(uids))
	for i, u := range uids {
		if m := tl.byUID[u]; m != nil {
			out[i] = *m
		}
	}
	return out
}

// All reports whether every mark has what f reads set.
func All(f func(m Marks) time.Time) func([]Marks) bool {
	return func(ms []Marks) bool {
		for _, m := range ms {
			if f(m).IsZero() {
				return false
			}
		}
		return true
	}
}
