package controller

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/toposuite/toposuite/internal/freshread"
)

// podLists lists the pods of a namespace from the API server, each caller
// from a list that started after it asked (so it shows every pod that
// existed when the caller decided to look), shared by every caller waiting
// for it: a burst of deleted claims costs a few lists, not one each.
type podLists struct {
	reader client.Reader
	reads  freshread.Group[string, []corev1.Pod]
}

// podListTimeout bounds one list; its callers give up on their own
// deadlines.
const podListTimeout = 30 * time.Second

// list returns the pods of namespace ns, read after the call began.
func (l *podLists) list(ctx context.Context, ns string) ([]corev1.Pod, error) {
	return l.reads.Do(ctx, ns, func(ctx context.Context) ([]corev1.Pod, error) {
		ctx, cancel := context.WithTimeout(ctx, podListTimeout)
		defer cancel()
		var pods corev1.PodList
		err := l.reader.List(ctx, &pods, client.InNamespace(ns))
		return pods.Items, err
	})
}

// podNamesClaim: the pod refers to the claim, directly or as one of its
// generic ephemeral volumes (named <pod>-<volume>), whatever its phase.
func podNamesClaim(pod *corev1.Pod, claim string) bool {
	for _, v := range pod.Spec.Volumes {
		if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == claim ||
			v.Ephemeral != nil && pod.Name+"-"+v.Name == claim {
			return true
		}
	}
	return false
}

// heldClaims are the deleted claims of the driver that a pod still named
// when fast binding looked, by namespace: a pod of that namespace going away
// is when to look again.
type heldClaims struct {
	mu   sync.Mutex
	byNS map[string]map[string]bool
}

func (h *heldClaims) set(ns, name string, held bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !held {
		delete(h.byNS[ns], name)
		if len(h.byNS[ns]) == 0 {
			delete(h.byNS, ns)
		}
		return
	}
	if h.byNS == nil {
		h.byNS = map[string]map[string]bool{}
	}
	if h.byNS[ns] == nil {
		h.byNS[ns] = map[string]bool{}
	}
	h.byNS[ns][name] = true
}

// in returns the held claims of the namespace of o (a pod that went).
func (h *heldClaims) in(_ context.Context, o client.Object) []reconcile.Request {
	h.mu.Lock()
	defer h.mu.Unlock()
	var reqs []reconcile.Request
	for name := range h.byNS[o.GetNamespace()] {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKey{Namespace: o.GetNamespace(), Name: name}})
	}
	return reqs
}
