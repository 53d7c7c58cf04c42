package values

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/toposuite/toposuite/internal/api/operator/v1alpha1"
)

// The charts the operator renders (directories of deploy/charts).
const (
	ChartTopoLVM   = "topolvm"
	ChartTopoLS    = "topols"
	ChartScheduler = "topolvm-scheduler"
)

// Release is one Helm release: its name (also every namespaced object's name
// prefix), chart and values.
type Release struct {
	Name   string
	Chart  string
	Values map[string]any
}

// Releases derives the releases a spec asks for, in a stable order: for
// each enabled driver its main release, then one per node group with
// storage for it (one per node of the group, from nodes, when its volume
// groups have device selectors: ResolveDevices); then the scheduler
// extender. Nodes of such groups that get no release are returned as
// Unresolved.
func Releases(spec *v1alpha1.TopolvmClusterSpec, nodes []Node) ([]Release, []Unresolved, error) {
	images, err := imageValues(spec.Images.Overrides)
	if err != nil {
		return nil, nil, err
	}
	var out []Release
	var unresolved []Unresolved
	c := spec.Components
	if c.LVM.Enabled {
		rs, un, err := driverReleases(spec, nodes, ChartTopoLVM, c.LVM, images, lvmGroupValues)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, rs...)
		unresolved = append(unresolved, un...)
	}
	if c.Btrfs.Enabled {
		rs, _, err := driverReleases(spec, nodes, ChartTopoLS, c.Btrfs, images, btrfsGroupValues)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, rs...)
	}
	if c.Scheduler.Mode == v1alpha1.SchedulerExtender {
		v := map[string]any{
			"fullnameOverride": ChartScheduler,
			"imagePullPolicy":  pullPolicy(spec),
		}
		setImage(v, images, "topolvm-scheduler", "image")
		if r := resources(c.Scheduler.Resources); r != nil {
			v["resources"] = r
		}
		v, err := overlay(v, chartValues(spec, ChartScheduler))
		if err != nil {
			return nil, nil, err
		}
		out = append(out, Release{Name: ChartScheduler, Chart: ChartScheduler, Values: v})
	}
	return out, unresolved, nil
}

// groupValues returns a node group's values for a driver's chart, or nil
// when the group has no storage for that driver. devices holds one node's
// devices for the volume groups with a deviceSelector (ResolveDevices), nil
// for a group without.
type groupValues func(g *v1alpha1.NodeGroup, images map[string]map[string]any, devices map[string][]string) (map[string]any, error)

// driverReleases: the driver's main release, then its node groups'. Device
// selectors are LVM's only (btrfs pools list their devices), so only the
// TopoLVM chart is split per node.
func driverReleases(spec *v1alpha1.TopolvmClusterSpec, nodes []Node, chart string, d v1alpha1.Driver, images map[string]map[string]any, group groupValues) ([]Release, []Unresolved, error) {
	extra := chartValues(spec, chart)
	common := func() map[string]any {
		v := map[string]any{
			"imagePullPolicy": pullPolicy(spec),
			"metrics":         map[string]any{"service": map[string]any{"enabled": spec.Components.Metrics.Enabled}},
		}
		setImage(v, images, chart+"-node", "node", "image")
		setImage(v, images, "topolvm-controller", "controller", "image")
		for _, s := range []string{"provisioner", "resizer", "snapshotter"} {
			setImage(v, images, "csi-"+s, "controller", s, "image")
		}
		if r := resources(d.NodeResources); r != nil {
			set(v, r, "node", "resources")
		}
		return v
	}

	main := common()
	main["fullnameOverride"] = chart
	set(main, map[string]any{"enabled": false}, "node")
	set(main, true, "controller", "enabled")
	set(main, d.ControllerReplicas, "controller", "replicas")
	if r := resources(d.ControllerResources); r != nil {
		set(main, r, "controller", "resources")
	}
	set(main, spec.Components.Webhook.Enabled, "webhook", "enabled")
	main["storageClasses"] = storageClasses(spec, chart)
	mv, err := overlay(main, extra)
	if err != nil {
		return nil, nil, err
	}
	out := []Release{{Name: chart, Chart: chart, Values: mv}}
	var unresolved []Unresolved

	for i := range spec.NodeGroups {
		g := &spec.NodeGroups[i]
		var rels []Release
		if chart == ChartTopoLVM && hasSelector(g) {
			var un []Unresolved
			rels, un, err = perNodeReleases(g, nodes,
				func(devices map[string][]string) (map[string]any, error) { return group(g, images, devices) },
				func(node string) string { return NodeReleaseName(chart, g.Name, node) })
			if err != nil {
				return nil, nil, err
			}
			unresolved = append(unresolved, un...)
		} else {
			gv, err := group(g, images, nil)
			if err != nil {
				return nil, nil, err
			}
			if gv != nil {
				rels = []Release{{Name: chart + "-" + g.Name, Values: gv}}
			}
		}
		for _, rel := range rels {
			v := common()
			v["fullnameOverride"] = rel.Name
			set(v, false, "controller", "enabled")
			set(v, false, "webhook", "enabled")
			v["storageClasses"] = []any{}
			set(v, true, "node", "enabled")
			set(v, toAny(g.NodeSelector), "node", "nodeSelector")
			merged, err := overlay(merge(v, rel.Values), extra)
			if err != nil {
				return nil, nil, err
			}
			out = append(out, Release{Name: rel.Name, Chart: chart, Values: merged})
		}
	}
	return out, unresolved, nil
}

func pullPolicy(spec *v1alpha1.TopolvmClusterSpec) string {
	if spec.Images.PullPolicy == "" {
		return "IfNotPresent"
	}
	return spec.Images.PullPolicy
}

func chartValues(spec *v1alpha1.TopolvmClusterSpec, chart string) []byte {
	cv := spec.ChartValues
	if cv == nil {
		return nil
	}
	switch chart {
	case ChartTopoLVM:
		if cv.TopoLVM != nil {
			return cv.TopoLVM.Raw
		}
	case ChartTopoLS:
		if cv.TopoLS != nil {
			return cv.TopoLS.Raw
		}
	case ChartScheduler:
		if cv.Scheduler != nil {
			return cv.Scheduler.Raw
		}
	}
	return nil
}

func resources(r *v1alpha1.ResourceRequirements) map[string]any {
	if r == nil || (len(r.Requests) == 0 && len(r.Limits) == 0) {
		return nil
	}
	out := map[string]any{}
	if len(r.Requests) > 0 {
		out["requests"] = toAny(r.Requests)
	}
	if len(r.Limits) > 0 {
		out["limits"] = toAny(r.Limits)
	}
	return out
}

// set puts value at the path of nested maps in v, making the maps it needs.
func set(v map[string]any, value any, path ...string) {
	for _, k := range path[:len(path)-1] {
		next, ok := v[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			v[k] = next
		}
		v = next
	}
	v[path[len(path)-1]] = value
}

func toAny(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out[k] = m[k]
	}
	return out
}

// overlay merges the JSON object raw over v: maps merge key by key, any
// other value (lists included) replaces, as Helm merges values files.
func overlay(v map[string]any, raw []byte) (map[string]any, error) {
	if len(raw) == 0 {
		return v, nil
	}
	var o map[string]any
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, fmt.Errorf("chartValues: %w", err)
	}
	return merge(v, o), nil
}

func merge(dst, src map[string]any) map[string]any {
	for k, sv := range src {
		if sm, ok := sv.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				dst[k] = merge(dm, sm)
				continue
			}
		}
		dst[k] = sv
	}
	return dst
}
