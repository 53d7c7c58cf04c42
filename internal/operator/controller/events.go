package controller

import (
	"fmt"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/toposuite/toposuite/internal/api/operator/v1alpha1"
)

// Reasons of the operator's own Events on the TopolvmCluster; a Warning
// Event when the cluster becomes Degraded carries the Degraded
// condition's reason (RenderFailed, ApplyFailed, DeviceRefused, NodeError,
// NodeInTwoGroups, ...).
const (
	// EventApplied: the charts were rendered and applied for a new
	// generation of the spec.
	EventApplied = "Applied"
	// EventRecovered: the cluster is no longer Degraded.
	EventRecovered = "Recovered"
	// EventReady: every component runs (Ready became True).
	EventReady = "Ready"
)

// recordTransitions records an Event on the TopolvmCluster for each change
// a user should hear of, comparing the status just written with the one
// before (conditions, observed generation): a new spec applied, the
// cluster Degraded (or Degraded for another reason), no longer Degraded,
// Ready. A reconcile that changes nothing records nothing.
func (r *Reconciler) recordTransitions(tc *v1alpha1.TopolvmCluster, before []metav1.Condition, observedBefore int64, failed bool) {
	if r.Events == nil {
		return
	}
	if !failed && observedBefore != tc.Generation {
		r.Events.Eventf(tc, nil, corev1.EventTypeNormal, EventApplied, "Apply",
			"Applied the charts for generation %d of the spec: %d objects.", tc.Generation, tc.Status.Applied)
	}
	was, now := meta.FindStatusCondition(before, v1alpha1.ConditionDegraded), meta.FindStatusCondition(tc.Status.Conditions, v1alpha1.ConditionDegraded)
	wasDegraded := was != nil && was.Status == metav1.ConditionTrue
	if now != nil && now.Status == metav1.ConditionTrue && (!wasDegraded || was.Reason != now.Reason) {
		r.Events.Eventf(tc, nil, corev1.EventTypeWarning, now.Reason, "Reconcile", "%s", degradedNote(now))
	}
	if wasDegraded && (now == nil || now.Status != metav1.ConditionTrue) {
		r.Events.Eventf(tc, nil, corev1.EventTypeNormal, EventRecovered, "Reconcile", "No longer degraded (was %s).", was.Reason)
	}
	wasReady := meta.IsStatusConditionTrue(before, v1alpha1.ConditionReady)
	if !wasReady && meta.IsStatusConditionTrue(tc.Status.Conditions, v1alpha1.ConditionReady) {
		r.Events.Eventf(tc, nil, corev1.EventTypeNormal, EventReady, "Reconcile", "Every component runs.")
	}
}

// writtenStatus remembers the status the reconciler last wrote for each
// cluster. The object a reconcile reads comes from the cache, which may
// not hold that write yet: compared with it, the same new generation or
// condition would be announced twice. A restarted operator starts from
// the cached status again.
type writtenStatus struct {
	mu sync.Mutex
	m  map[types.UID]v1alpha1.TopolvmClusterStatus
}

// before returns the conditions and observed generation the cluster had
// before this write: the last this reconciler wrote, else the object's.
func (w *writtenStatus) before(tc *v1alpha1.TopolvmCluster) ([]metav1.Condition, int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	st, ok := w.m[tc.UID]
	if !ok {
		st = tc.Status
	}
	return slices.Clone(st.Conditions), st.ObservedGeneration
}

// remember records the status just written.
func (w *writtenStatus) remember(tc *v1alpha1.TopolvmCluster) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = map[types.UID]v1alpha1.TopolvmClusterStatus{}
	}
	w.m[tc.UID] = *tc.Status.DeepCopy()
}

// degradedNote is the Degraded condition's message with what to do.
func degradedNote(c *metav1.Condition) string {
	switch c.Reason {
	case v1alpha1.ReasonRenderFailed:
		return fmt.Sprintf("The spec cannot be rendered: %s. Fix the TopolvmCluster's spec.", c.Message)
	case v1alpha1.ReasonApplyFailed:
		return fmt.Sprintf("Applying the charts failed: %s. The operator retries; check its permissions and the API server if this stays.", c.Message)
	case v1alpha1.ReasonDeviceRefused:
		return fmt.Sprintf("A node refused a device: %s. Wipe the device or take it out of the node group's volume groups.", c.Message)
	case v1alpha1.ReasonNodeInTwoGroups:
		return fmt.Sprintf("%s. Change the node's labels or the node groups' selectors so that one group selects it.", c.Message)
	}
	return c.Message + ". See status.nodes and the node agents' reports."
}
