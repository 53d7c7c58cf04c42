package status

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
)

// NotRolledOut says why a Deployment is not rolled out yet, or "" once the
// controller has seen its latest spec and every replica is updated and
// available.
func NotRolledOut(d *appsv1.Deployment) string {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	if s.ObservedGeneration < d.Generation || s.UpdatedReplicas < want || s.AvailableReplicas < want || s.Replicas > want {
		return fmt.Sprintf("Deployment %s: %d of %d replicas updated and available", d.Name, min(s.UpdatedReplicas, s.AvailableReplicas), want)
	}
	return ""
}

// DaemonSetNotRolledOut is NotRolledOut for a DaemonSet: every scheduled
// pod updated and available.
func DaemonSetNotRolledOut(d *appsv1.DaemonSet) string {
	s := d.Status
	if s.ObservedGeneration < d.Generation || s.UpdatedNumberScheduled < s.DesiredNumberScheduled || s.NumberAvailable < s.DesiredNumberScheduled {
		return fmt.Sprintf("DaemonSet %s: %d of %d pods updated and available", d.Name, min(s.UpdatedNumberScheduled, s.NumberAvailable), s.DesiredNumberScheduled)
	}
	return ""
}
