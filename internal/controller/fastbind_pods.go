package controller

import (
	"context"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
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
// when fast binding looked, and those pods. The pods come from a list read
// after the claim's deletion was seen, so they are all that can ever use it
// (a pod made later cannot be scheduled or started with a claim being
// deleted): when the last of them is deleted, the claim is free without
// another list. An entry goes when its claim is let go or gone.
type heldClaims struct {
	mu     sync.Mutex
	claims map[client.ObjectKey]*heldClaim
	byPod  map[client.ObjectKey][]client.ObjectKey // pod -> claims it held
}

type heldClaim struct {
	uid  types.UID
	pods map[string]bool // holders not deleted yet
}

// hold records the pods of the claim's namespace that named it.
func (h *heldClaims) hold(claim *corev1.PersistentVolumeClaim, pods []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.claims == nil {
		h.claims, h.byPod = map[client.ObjectKey]*heldClaim{}, map[client.ObjectKey][]client.ObjectKey{}
	}
	key := client.ObjectKeyFromObject(claim)
	hc := &heldClaim{uid: claim.UID, pods: map[string]bool{}}
	for _, p := range pods {
		hc.pods[p] = true
		pk := client.ObjectKey{Namespace: claim.Namespace, Name: p}
		if !slices.Contains(h.byPod[pk], key) {
			h.byPod[pk] = append(h.byPod[pk], key)
		}
	}
	h.claims[key] = hc
}

// freed reports whether every pod recorded holding this claim was deleted,
// and forgets the claim.
func (h *heldClaims) freed(claim *corev1.PersistentVolumeClaim) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	key := client.ObjectKeyFromObject(claim)
	hc := h.claims[key]
	if hc == nil || len(hc.pods) > 0 {
		return false
	}
	delete(h.claims, key)
	return hc.uid == claim.UID
}

// forget drops what is recorded of a claim (let go, or gone).
func (h *heldClaims) forget(key client.ObjectKey) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.claims, key)
}

// of takes o (a deleted pod) off the claims it held and returns those it
// was the last holder of.
func (h *heldClaims) of(_ context.Context, o client.Object) []reconcile.Request {
	h.mu.Lock()
	defer h.mu.Unlock()
	pk := client.ObjectKeyFromObject(o)
	var reqs []reconcile.Request
	for _, key := range h.byPod[pk] {
		hc := h.claims[key]
		if hc == nil || !hc.pods[pk.Name] {
			continue
		}
		delete(hc.pods, pk.Name)
		if len(hc.pods) == 0 {
			reqs = append(reqs, reconcile.Request{NamespacedName: key})
		}
	}
	delete(h.byPod, pk)
	return reqs
}
