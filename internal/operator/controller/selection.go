package controller

import (
	"context"

	corev1 "k8s.io/api/core/v1"

	"github.com/toposuite/toposuite/internal/api/operator/v1alpha1"
	"github.com/toposuite/toposuite/internal/operator/report"
	"github.com/toposuite/toposuite/internal/operator/status"
	"github.com/toposuite/toposuite/internal/operator/values"
)

// selectionNodes reads what device selection needs: every Node (its labels
// say which groups it is in) with its agent's report (its devices). Both
// come from the cache; a report's change reconciles again (SetupWithManager).
func (r *Reconciler) selectionNodes(ctx context.Context) ([]values.Node, error) {
	var nodes corev1.NodeList
	if err := r.Client.List(ctx, &nodes); err != nil {
		return nil, err
	}
	reports, err := report.List(ctx, r.Client, r.Namespace)
	if err != nil {
		return nil, err
	}
	byNode := make(map[string]*report.NodeReport, len(reports))
	for i := range reports {
		byNode[reports[i].Node] = &reports[i]
	}
	out := make([]values.Node, 0, len(nodes.Items))
	for _, n := range nodes.Items {
		out = append(out, values.Node{Name: n.Name, Labels: n.Labels, Report: byNode[n.Name]})
	}
	return out, nil
}

// foldUnresolved adds the nodes that got no node plugin to the conditions:
// a node without a report is a wait (Progressing; its agent reports within
// seconds of starting), a node without a matching device a problem
// (Degraded) until its disks or the spec change.
func foldUnresolved(unresolved []values.Unresolved, rolling []string, problems []status.Problem) ([]string, []status.Problem) {
	for _, u := range unresolved {
		if u.Reason == v1alpha1.ReasonWaitingForReport {
			rolling = append(rolling, u.Message)
		} else {
			problems = append(problems, status.Problem{Reason: u.Reason, Message: u.Message})
		}
	}
	return rolling, problems
}
