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

// heldClaims are the deleted claims of the driver that pods still named
// when fast binding looked, by pod: when one of those pods is deleted, its
// claims (only those) are looked at again. An entry goes with its pod.
type heldClaims struct {
	mu    sync.Mutex
	byPod map[client.ObjectKey]map[string]bool
}

// hold records that the pods of namespace ns named claim.
func (h *heldClaims) hold(ns, claim string, pods []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.byPod == nil {
		h.byPod = map[client.ObjectKey]map[string]bool{}
	}
	for _, p := range pods {
		k := client.ObjectKey{Namespace: ns, Name: p}
		if h.byPod[k] == nil {
			h.byPod[k] = map[string]bool{}
		}
		h.byPod[k][claim] = true
	}
}

// of returns the claims o (a pod that was deleted) held, and forgets them.
func (h *heldClaims) of(_ context.Context, o client.Object) []reconcile.Request {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := client.ObjectKeyFromObject(o)
	var reqs []reconcile.Request
	for claim := range h.byPod[k] {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKey{Namespace: k.Namespace, Name: claim}})
	}
	delete(h.byPod, k)
	return reqs
}
