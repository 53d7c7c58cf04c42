package status

import (
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/toposuite/toposuite/internal/api/operator/v1alpha1"
)

// Set writes the three conditions for generation: Degraded from problems
// (the first one's reason, every message), Progressing from what has not
// rolled out, Ready when neither. note, when set, ends the Ready message:
// something the spec asks for that is left out without making the cluster
// less ready (the PrometheusRule on a cluster without prometheus-operator).
func Set(conds *[]metav1.Condition, generation int64, problems []Problem, rolling []string, note string) {
	set := func(t string, ok bool, reason, msg string) {
		s := metav1.ConditionFalse
		if ok {
			s = metav1.ConditionTrue
		}
		meta.SetStatusCondition(conds, metav1.Condition{Type: t, Status: s, Reason: reason, Message: limit(msg), ObservedGeneration: generation})
	}
	if len(problems) > 0 {
		msgs := make([]string, len(problems))
		for i, p := range problems {
			msgs[i] = p.Message
		}
		set(v1alpha1.ConditionDegraded, true, problems[0].Reason, strings.Join(msgs, "; "))
	} else {
		set(v1alpha1.ConditionDegraded, false, v1alpha1.ReasonAsExpected, "")
	}
	if len(rolling) > 0 {
		set(v1alpha1.ConditionProgressing, true, v1alpha1.ReasonRollingOut, strings.Join(rolling, "; "))
	} else {
		set(v1alpha1.ConditionProgressing, false, v1alpha1.ReasonApplied, "every object is applied and rolled out")
	}
	ready := func(ok bool, reason, msg string) {
		if note != "" {
			msg += "; " + note
		}
		set(v1alpha1.ConditionReady, ok, reason, msg)
	}
	switch {
	case len(problems) > 0:
		ready(false, problems[0].Reason, "degraded: see the Degraded condition")
	case len(rolling) > 0:
		ready(false, v1alpha1.ReasonComponentsNotReady, "rolling out: see the Progressing condition")
	default:
		ready(true, v1alpha1.ReasonAsExpected, "every component runs")
	}
}

// limit keeps a message under the API's 32768-byte limit on condition
// messages.
func limit(s string) string {
	const max = 4096
	if len(s) <= max {
		return s
	}
	return s[:max-3] + "..."
}
