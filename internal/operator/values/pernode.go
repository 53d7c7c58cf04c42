package values

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/toposuite/toposuite/internal/api/operator/v1alpha1"
	"github.com/toposuite/toposuite/internal/operator/report"
)

// Node is a node as device selection sees it: its labels (which node
// groups it is in) and its agent's last report.
type Node struct {
	Name   string
	Labels map[string]string
	// Report is nil until the node's agent has written one.
	Report *report.NodeReport
}

// Unresolved is a node of a group with device selectors that gets no node
// plugin for now, and why: Reason is v1alpha1.ReasonWaitingForReport (a
// wait) or v1alpha1.ReasonNoDeviceSelected (the node has nothing to serve).
type Unresolved struct {
	Node, Group, Reason, Message string
}

// hasSelector: the group's volume groups are resolved per node.
func hasSelector(g *v1alpha1.NodeGroup) bool {
	return slices.ContainsFunc(g.VolumeGroups, func(vg v1alpha1.VolumeGroup) bool { return vg.DeviceSelector != nil })
}

// groupNodes are the nodes g selects, by name.
func groupNodes(g *v1alpha1.NodeGroup, nodes []Node) []Node {
	sel := labels.SelectorFromSet(g.NodeSelector)
	var out []Node
	for _, n := range nodes {
		if sel.Matches(labels.Set(n.Labels)) {
			out = append(out, n)
		}
	}
	slices.SortFunc(out, func(a, b Node) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// NodeReleaseName names a node's release of a group (its objects are
// <name>-node, <name>-lvmd, ...): the node's name would not
// always fit (object names built on it stop at 63 characters) nor be a
// valid label value, so a hash of group and node stands for it; the
// DaemonSet's node affinity names the node.
func NodeReleaseName(chart, group, node string) string {
	sum := sha256.Sum256([]byte(group + "/" + node))
	return chart + "-" + group + "-" + hex.EncodeToString(sum[:4])
}

// nodeAffinity keeps a DaemonSet on one node (by name, as the DaemonSet
// controller itself matches nodes).
func nodeAffinity(node string) map[string]any {
	return map[string]any{"nodeAffinity": map[string]any{
		"requiredDuringSchedulingIgnoredDuringExecution": map[string]any{
			"nodeSelectorTerms": []any{map[string]any{
				"matchFields": []any{map[string]any{"key": "metadata.name", "operator": "In", "values": []any{node}}},
			}},
		},
	}}
}

// ResolveDevices chooses, for each volume group of g with a deviceSelector,
// the devices of the node that reported r, and returns them by volume group
// name, with the names of the volume groups left without any device. For
// one volume group that is, in this order:
//   - its devices listed by path in the spec;
//   - sorted together, so that a device moving from discovered to member
//     leaves the list as it was: the devices the report shows in the volume
//     group already (it keeps its members, the configuration stays the same
//     once a selected device has joined), and the discovered free devices
//     that match the selector and are at least minDeviceSize, that no
//     volume group or pool of the group lists by path, and that an earlier
//     volume group (spec order) has not selected.
//
// Discovered devices are free: no signature, not mounted, not in use, so a
// selected device never holds data; selected devices are never put under
// wipe whatever the wipe policy (it applies to the listed devices only).
func ResolveDevices(g *v1alpha1.NodeGroup, r *report.NodeReport) (map[string][]string, []string) {
	claimed := map[string]bool{}
	for _, vg := range g.VolumeGroups {
		for _, d := range vg.Devices {
			claimed[d] = true
		}
	}
	for _, p := range g.Pools {
		for _, d := range p.Devices {
			claimed[d] = true
		}
	}
	members := map[string][]string{}
	for _, vg := range r.VolumeGroups {
		members[vg.Name] = vg.Devices
		for _, d := range vg.Devices {
			claimed[d] = true
		}
	}
	free := slices.Clone(r.Discovered)
	slices.SortFunc(free, func(a, b report.Device) int { return strings.Compare(a.Path, b.Path) })
	taken := func(d report.Device) bool {
		return claimed[d.Path] || slices.ContainsFunc(d.ByID, func(id string) bool { return claimed[id] })
	}

	out := map[string][]string{}
	var empty []string
	for _, vg := range g.VolumeGroups {
		if vg.DeviceSelector == nil {
			continue
		}
		minSize := int64(defaultMinDeviceSize)
		if vg.MinDeviceSize != nil {
			minSize = vg.MinDeviceSize.Value()
		}
		var more []string
		for _, d := range members[vg.Name] {
			if !slices.Contains(vg.Devices, d) {
				more = append(more, d)
			}
		}
		for _, d := range free {
			if d.Size >= minSize && !taken(d) && matches(vg.DeviceSelector, d) {
				more = append(more, d.Path)
				claimed[d.Path] = true
			}
		}
		slices.Sort(more)
		devices := append(slices.Clone(vg.Devices), slices.Compact(more)...)
		if len(devices) == 0 {
			empty = append(empty, vg.Name)
			continue
		}
		out[vg.Name] = devices
	}
	return out, empty
}

// perNodeReleases resolves g's devices on each of its nodes: a node with
// devices for every volume group gets its own release (the group's values
// with its devices, restricted to it by node affinity), the others are
// Unresolved. One release per node, rather than one per distinct device
// set, so that one node's change never touches another node's DaemonSet.
func perNodeReleases(g *v1alpha1.NodeGroup, nodes []Node, values func(devices map[string][]string) (map[string]any, error), name func(node string) string) ([]Release, []Unresolved, error) {
	for _, vg := range g.VolumeGroups {
		if vg.DeviceSelector == nil {
			continue
		}
		if err := checkSelector(vg.DeviceSelector); err != nil {
			return nil, nil, fmt.Errorf("node group %s, volume group %s, deviceSelector: %w", g.Name, vg.Name, err)
		}
	}
	var rels []Release
	var waiting []Unresolved
	for _, n := range groupNodes(g, nodes) {
		if n.Report == nil {
			waiting = append(waiting, Unresolved{Node: n.Name, Group: g.Name, Reason: v1alpha1.ReasonWaitingForReport,
				Message: fmt.Sprintf("node %s: waiting for its report to select devices for node group %s", n.Name, g.Name)})
			continue
		}
		devices, empty := ResolveDevices(g, n.Report)
		if len(empty) > 0 {
			waiting = append(waiting, Unresolved{Node: n.Name, Group: g.Name, Reason: v1alpha1.ReasonNoDeviceSelected,
				Message: fmt.Sprintf("node %s: no free device matches the deviceSelector of volume group %v of node group %s; the node serves none of its device classes", n.Name, empty, g.Name)})
			continue
		}
		v, err := values(devices)
		if err != nil {
			return nil, nil, err
		}
		if v == nil {
			continue
		}
		set(v, nodeAffinity(n.Name), "node", "affinity")
		rels = append(rels, Release{Name: name(n.Name), Values: v})
	}
	return rels, waiting, nil
}
