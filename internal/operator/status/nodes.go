// Package status computes a TopolvmCluster's status from what the cluster
// holds: which node belongs to which node group, the nodes' reports, and
// whether the applied workloads have rolled out. It is pure: the
// controller reads, this package decides.
package status

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/toposuite/toposuite/internal/api/operator/v1alpha1"
	"github.com/toposuite/toposuite/internal/operator/report"
)

// Problem is one reason for the Degraded condition.
type Problem struct {
	Reason  string
	Message string
}

// Nodes matches nodes to node groups and folds the nodes' reports into
// per-node status. A node two groups select is a problem naming both (the
// CRD refuses identical selectors; overlapping ones only show on real
// nodes); so is every device a node refused and every error it reported.
func Nodes(groups []v1alpha1.NodeGroup, nodes []corev1.Node, reports []report.NodeReport) ([]v1alpha1.NodeStatus, []Problem) {
	var problems []Problem
	byNode := map[string]*report.NodeReport{}
	for i := range reports {
		byNode[reports[i].Node] = &reports[i]
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	var out []v1alpha1.NodeStatus
	for _, n := range nodes {
		var in []string
		for _, g := range groups {
			if labels.SelectorFromSet(g.NodeSelector).Matches(labels.Set(n.Labels)) {
				in = append(in, g.Name)
			}
		}
		if len(in) > 1 {
			problems = append(problems, Problem{v1alpha1.ReasonNodeInTwoGroups,
				fmt.Sprintf("node %s is selected by node groups %s", n.Name, strings.Join(in, " and "))})
		}
		r := byNode[n.Name]
		if len(in) == 0 && r == nil {
			continue
		}
		ns := v1alpha1.NodeStatus{Name: n.Name}
		if len(in) > 0 {
			ns.Group = in[0]
		}
		if r != nil {
			fold(&ns, r)
			for _, s := range append(append([]v1alpha1.StorageStatus{}, ns.VolumeGroups...), ns.Pools...) {
				for _, ref := range s.Refused {
					problems = append(problems, Problem{v1alpha1.ReasonDeviceRefused,
						fmt.Sprintf("node %s: device %s refused for %s: %s", n.Name, ref.Device, s.Name, ref.Reason)})
				}
			}
			for _, e := range r.Errors {
				problems = append(problems, Problem{v1alpha1.ReasonNodeError, fmt.Sprintf("node %s: %s", n.Name, e)})
			}
		}
		out = append(out, ns)
	}
	return out, problems
}

func fold(ns *v1alpha1.NodeStatus, r *report.NodeReport) {
	ns.Updated = r.Updated
	ns.Errors = r.Errors
	ns.VolumeGroups = append(ns.VolumeGroups, r.VolumeGroups...)
	for _, p := range r.Pools {
		ns.Pools = append(ns.Pools, v1alpha1.StorageStatus{Name: p.Name, Size: p.Size, Free: p.Free, Devices: p.Devices, Refused: p.Refused})
	}
	for _, d := range r.Discovered {
		ns.DiscoveredDevices = append(ns.DiscoveredDevices, v1alpha1.DiscoveredDevice{
			Path: d.Path, Size: d.Size, Rotational: d.Rotational, Model: d.Model, ByID: d.ByID})
	}
}
