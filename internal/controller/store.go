// Package controller holds the Kubernetes side of both drivers: the
// LogicalVolume store the CSI controller uses (create, resize and delete
// with event-driven waits), the node capacity read from Node annotations,
// the node's LogicalVolume reconciler that makes volumes real through the
// storage daemon, the node's capacity publisher, and the clean-up
// controllers (deleted nodes, leaked volumes).
package controller

import (
	"context"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/toposuite/toposuite/internal/api/topolvm/v1"
)

// Store is the LogicalVolume store of one driver. Reads come from the
// informer cache; waits are woken by the informer's events for the object,
// so a volume is ready the moment the node's status update arrives, with no
// polling interval under it.
type Store struct {
	c      client.Client
	driver string

	mu      sync.Mutex
	waiters map[string]map[chan struct{}]struct{}
}

// NewStore returns a store and registers its event handler on the cache's
// LogicalVolume informer.
func NewStore(ctx context.Context, c client.Client, informers cache.Informers, driver string) (*Store, error) {
	s := &Store{c: c, driver: driver, waiters: map[string]map[chan struct{}]struct{}{}}
	inf, err := informers.GetInformer(ctx, &v1.LogicalVolume{})
	if err != nil {
		return nil, err
	}
	wake := func(obj any) {
		if lv, ok := obj.(*v1.LogicalVolume); ok {
			s.wake(lv.Name)
		} else if t, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
			if lv, ok := t.Obj.(*v1.LogicalVolume); ok {
				s.wake(lv.Name)
			}
		}
	}
	_, err = inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    wake,
		UpdateFunc: func(_, n any) { wake(n) },
		DeleteFunc: wake,
	})
	return s, err
}

func (s *Store) wake(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ch := range s.waiters[name] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (s *Store) subscribe(name string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	if s.waiters[name] == nil {
		s.waiters[name] = map[chan struct{}]struct{}{}
	}
	s.waiters[name][ch] = struct{}{}
	s.mu.Unlock()
	return ch, func() {
		s.mu.Lock()
		delete(s.waiters[name], ch)
		if len(s.waiters[name]) == 0 {
			delete(s.waiters, name)
		}
		s.mu.Unlock()
	}
}

// Get implements csi.VolumeStore; objects of another driver are NotFound.
func (s *Store) Get(ctx context.Context, name string) (*v1.LogicalVolume, error) {
	lv := &v1.LogicalVolume{}
	if err := s.c.Get(ctx, client.ObjectKey{Name: name}, lv); err != nil {
		return nil, err
	}
	if lv.Spec.DriverName != s.driver {
		return nil, apierrors.NewNotFound(v1.GroupVersion.WithResource("logicalvolumes").GroupResource(), name)
	}
	return lv, nil
}

// wait calls done on the object until it says true, waking on each event.
// A missing object is done(nil) (deletion waits end there; others wait for
// the object to appear).
func (s *Store) wait(ctx context.Context, name string, done func(*v1.LogicalVolume) bool) (*v1.LogicalVolume, error) {
	ch, cancel := s.subscribe(name)
	defer cancel()
	for {
		lv, err := s.Get(ctx, name)
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, err
		}
		if err == nil && done(lv) {
			return lv, nil
		}
		if err != nil && done(nil) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for LogicalVolume %s: %w", name, ctx.Err())
		case <-ch:
		}
	}
}

// answered: the node made the volume or said why not. An object being
// deleted answers nothing: its volume is on its way out.
func answered(lv *v1.LogicalVolume) bool {
	return lv != nil && lv.DeletionTimestamp.IsZero() && (lv.Status.VolumeID != "" || lv.Status.Code != "")
}

// CreateAndWait implements csi.VolumeStore.
func (s *Store) CreateAndWait(ctx context.Context, lv *v1.LogicalVolume) (*v1.LogicalVolume, error) {
	for {
		err := s.c.Create(ctx, lv.DeepCopy())
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, err
		}
		if err == nil {
			break
		}
		// The volume exists. If it is being deleted (the leak collector
		// took it after an answer to an earlier CreateVolume was lost, and
		// the claim's CreateVolume is retried now), it is waited out and
		// made anew, rather than answered with while the node removes it.
		cur, err := s.wait(ctx, lv.Name, func(o *v1.LogicalVolume) bool { return o == nil || o.DeletionTimestamp.IsZero() })
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, err
		}
		if cur != nil {
			break
		}
	}
	// wait subscribes before its first read, so the node's answer cannot
	// slip between the read and the wait.
	return s.wait(ctx, lv.Name, answered)
}

// ResizeAndWait implements csi.VolumeStore.
func (s *Store) ResizeAndWait(ctx context.Context, name string, size resource.Quantity) (*v1.LogicalVolume, error) {
	lv, err := s.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	// A growth, or a retry after a failed growth: at the same size (room
	// may have been freed since), or at a lower one (Kubernetes' recovery
	// from a failed expansion: the user lowered the claim's request). A
	// growth still in flight is not lowered under the node's feet: its end
	// answers this request too.
	failed := lv.Status.Code != ""
	// The cache may still show the object as it was before the patches
	// below, with the failure not yet cleared: those versions answer
	// nothing.
	stale := map[string]bool{}
	if failed || lv.Spec.Size.Cmp(size) < 0 {
		stale[lv.ResourceVersion] = true
		// The size goes first: while the failure is recorded, the node
		// leaves the object alone, so it cannot act on the old size once
		// the failure is cleared.
		if lv.Spec.Size.Cmp(size) != 0 {
			patch := client.MergeFrom(lv.DeepCopy())
			lv.Spec.Size = size
			if err := s.c.Patch(ctx, lv, patch); err != nil {
				return nil, err
			}
			stale[lv.ResourceVersion] = true
		}
		// A failure of an earlier resize must not answer this one: clear
		// it (status is a subresource, patched on its own). Clearing it is
		// what asks the node again (NodeVolumeReconciler follows that
		// change), also when the size is the same.
		if failed {
			patch := client.MergeFrom(lv.DeepCopy())
			lv.Status.Code, lv.Status.Message = "", ""
			if err := s.c.Status().Patch(ctx, lv, patch); err != nil {
				return nil, err
			}
		}
	}
	return s.wait(ctx, name, func(lv *v1.LogicalVolume) bool {
		return lv != nil && !stale[lv.ResourceVersion] &&
			(lv.Status.Code != "" || (lv.Status.CurrentSize != nil && lv.Status.CurrentSize.Cmp(size) >= 0))
	})
}

// Delete implements csi.VolumeStore.
func (s *Store) Delete(ctx context.Context, name string) error {
	lv, err := s.Get(ctx, name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	// A volume being deleted already is not deleted again: csi-provisioner
	// retries DeleteVolume for many volumes of a burst (it syncs a volume
	// again before it has seen its own finalizer go).
	if lv.DeletionTimestamp.IsZero() {
		if err := s.c.Delete(ctx, lv); err != nil {
			return client.IgnoreNotFound(err)
		}
	}
	// Wait until the cache has seen the deletion, so that what this
	// controller answers next (ListSnapshots, a retried CreateVolume) does
	// not show the object as alive.
	_, err = s.wait(ctx, name, func(lv *v1.LogicalVolume) bool { return lv == nil || !lv.DeletionTimestamp.IsZero() })
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// List implements csi.VolumeStore.
func (s *Store) List(ctx context.Context) ([]v1.LogicalVolume, error) {
	var all v1.LogicalVolumeList
	if err := s.c.List(ctx, &all); err != nil {
		return nil, err
	}
	out := all.Items[:0]
	for _, lv := range all.Items {
		if lv.Spec.DriverName == s.driver && lv.DeletionTimestamp.IsZero() {
			out = append(out, lv)
		}
	}
	return out, nil
}
