package render_test

import (
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/toposuite/toposuite/deploy/charts"
	"github.com/toposuite/toposuite/internal/api/operator/v1alpha1"
	"github.com/toposuite/toposuite/internal/operator/render"
	"github.com/toposuite/toposuite/internal/operator/report"
	"github.com/toposuite/toposuite/internal/operator/values"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from this run")

// spec is a TopolvmCluster with both drivers, two node groups (one with an
// LVM volume group and a btrfs pool, one with a volume group only) and the
// extender.
func spec(t *testing.T) *v1alpha1.TopolvmClusterSpec {
	t.Helper()
	var tc v1alpha1.TopolvmCluster
	b, err := os.ReadFile(filepath.Join("testdata", "cluster.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, &tc); err != nil {
		t.Fatal(err)
	}
	return &tc.Spec
}

func renderer(t *testing.T) *render.Renderer {
	t.Helper()
	r, err := render.New(charts.FS, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func find(t *testing.T, objs []*unstructured.Unstructured, key string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if render.Key(o) == key {
			return o
		}
	}
	t.Fatalf("%s not rendered", key)
	return nil
}

// TestClusterObjects compares the list of rendered objects with
// testdata/cluster.golden (go test -update rewrites it after a deliberate
// chart change) and checks the facts the operator relies on.
func TestClusterObjects(t *testing.T) {
	objs, err := renderer(t).Cluster(spec(t), "toposuite-system")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range objs {
		keys = append(keys, render.Key(o))
	}
	got := strings.Join(keys, "\n") + "\n"
	golden := filepath.Join("testdata", "cluster.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("rendered objects differ from %s (-want +got; go test -update after a deliberate chart change):\n%s", golden, d)
	}

	// Each group's DaemonSet runs on the group's nodes only.
	ds := find(t, objs, "apps/DaemonSet toposuite-system/topolvm-ssd-node")
	sel, _, _ := unstructured.NestedStringMap(ds.Object, "spec", "template", "spec", "nodeSelector")
	if d := cmp.Diff(map[string]string{"disk": "ssd"}, sel); d != "" {
		t.Errorf("nodeSelector of the ssd group's DaemonSet (-want +got):\n%s", d)
	}
	// ... with a checksum of its configuration on the pod template, so that
	// a configuration change (a device added) rolls it and prepare re-runs.
	ann, _, _ := unstructured.NestedStringMap(ds.Object, "spec", "template", "metadata", "annotations")
	if ann["checksum/config"] == "" {
		t.Errorf("no checksum/config on the DaemonSet's pod template: %v", ann)
	}
	// Its lvmd configuration has the group's classes and volume groups;
	// the adopted one is not prepared, and only opted-in devices may be wiped.
	cm := find(t, objs, "/ConfigMap toposuite-system/topolvm-ssd-lvmd")
	data, _, _ := unstructured.NestedStringMap(cm.Object, "data")
	var cfg struct {
		DeviceClasses []map[string]any `json:"deviceClasses"`
		VolumeGroups  []map[string]any `json:"volumeGroups"`
	}
	if err := yaml.Unmarshal([]byte(data["lvmd.yaml"]), &cfg); err != nil {
		t.Fatalf("lvmd.yaml: %v\n%s", err, data["lvmd.yaml"])
	}
	wantVGs := []map[string]any{
		{"name": "vg-fast", "devices": []any{"/dev/sdb", "/dev/sdc"}, "wipe": []any{"/dev/sdb", "/dev/sdc"}},
	}
	if d := cmp.Diff(wantVGs, cfg.VolumeGroups); d != "" {
		t.Errorf("lvmd volumeGroups (-want +got):\n%s", d)
	}
	if len(cfg.DeviceClasses) != 3 {
		t.Errorf("lvmd deviceClasses: %v", cfg.DeviceClasses)
	}
	// The node ClusterRoleBinding, rendered by every group, binds every
	// group's ServiceAccount.
	crb := find(t, objs, "rbac.authorization.k8s.io/ClusterRoleBinding /topolvm.io:node")
	subjects, _, _ := unstructured.NestedSlice(crb.Object, "subjects")
	var names []string
	for _, s := range subjects {
		names = append(names, s.(map[string]any)["name"].(string))
	}
	if d := cmp.Diff([]string{"topolvm-ssd-node", "topolvm-hdd-node"}, names); d != "" {
		t.Errorf("subjects of topolvm.io:node (-want +got):\n%s", d)
	}
	// Image overrides reach the containers.
	dep := find(t, objs, "apps/Deployment toposuite-system/topolvm-controller")
	if !strings.Contains(mustYAML(t, dep), "image: example.com/tc:v9") {
		t.Errorf("topolvm-controller image override not applied")
	}
}

// TestBadValuesAreRefused: chartValues go through the chart's values schema.
func TestBadValuesAreRefused(t *testing.T) {
	s := spec(t)
	s.ChartValues = &v1alpha1.ChartValues{}
	s.ChartValues.TopoLVM = rawJSON(`{"node": {"kubeletDir": 5}}`)
	_, err := renderer(t).Cluster(s, "toposuite-system")
	if err == nil || !strings.Contains(err.Error(), "kubeletDir") {
		t.Errorf("got %v, want a schema error naming kubeletDir", err)
	}
}

func mustYAML(t *testing.T, o *unstructured.Unstructured) string {
	b, err := yaml.Marshal(o.Object)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDeviceSelectorPerNode: a group with a selector renders one node
// DaemonSet per node with a report, pinned to it, with that node's devices;
// the same reports render the same objects; a new matching device on one
// node changes that node's configuration (and pod template) only.
func TestDeviceSelectorPerNode(t *testing.T) {
	s := spec(t)
	vg := &s.NodeGroups[1].VolumeGroups[0]
	vg.Devices, vg.DeviceSelector = nil, &v1alpha1.DeviceSelector{Model: "ST*"}
	hdd := map[string]string{"disk": "hdd"}
	disk := func(p string) report.Device {
		return report.Device{Path: p, Size: 1 << 40, Rotational: true, Model: "ST4000"}
	}
	nodes := func(h2 ...report.Device) []values.Node {
		return []values.Node{
			{Name: "h1", Labels: hdd, Report: &report.NodeReport{Discovered: []report.Device{disk("/dev/sdb")}}},
			{Name: "h2", Labels: hdd, Report: &report.NodeReport{Discovered: h2,
				VolumeGroups: []report.VolumeGroup{{Name: "vg-slow", Devices: []string{"/dev/sdb"}}}}},
		}
	}
	r := renderer(t)
	render := func(n []values.Node) map[string]*unstructured.Unstructured {
		objs, unresolved, err := r.ClusterOn(s, "toposuite-system", n)
		if err != nil || len(unresolved) > 0 {
			t.Fatalf("render: %v, unresolved %v", err, unresolved)
		}
		out := map[string]*unstructured.Unstructured{}
		for _, o := range objs {
			if o.GetKind() == "DaemonSet" || o.GetKind() == "ConfigMap" {
				out[o.GetName()] = o
			}
		}
		return out
	}
	lvmdDevices := func(objs map[string]*unstructured.Unstructured, release string) []any {
		data, _, _ := unstructured.NestedStringMap(objs[release+"-lvmd"].Object, "data")
		var cfg struct {
			VolumeGroups []struct {
				Devices []any `json:"devices"`
			} `json:"volumeGroups"`
		}
		if err := yaml.Unmarshal([]byte(data["lvmd.yaml"]), &cfg); err != nil || len(cfg.VolumeGroups) != 1 {
			t.Fatalf("%s lvmd.yaml: %v\n%s", release, err, data["lvmd.yaml"])
		}
		return cfg.VolumeGroups[0].Devices
	}

	first := render(nodes())
	if _, ok := first["topolvm-hdd-node"]; ok {
		t.Errorf("the group-wide DaemonSet is rendered for a group with a selector")
	}
	h1, h2 := values.NodeReleaseName("topolvm", "hdd", "h1"), values.NodeReleaseName("topolvm", "hdd", "h2")
	for node, rel := range map[string]string{"h1": h1, "h2": h2} {
		ds, ok := first[rel+"-node"]
		if !ok {
			t.Fatalf("no DaemonSet %s-node for %s; rendered %v", rel, node, keys(first))
		}
		terms, _, _ := unstructured.NestedSlice(ds.Object, "spec", "template", "spec", "affinity", "nodeAffinity",
			"requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms")
		if !strings.Contains(mustYAML(t, &unstructured.Unstructured{Object: map[string]any{"t": terms}}), "- "+node) {
			t.Errorf("%s-node is not pinned to %s: %v", rel, node, terms)
		}
	}
	if d := cmp.Diff([]any{"/dev/sdb"}, lvmdDevices(first, h1)); d != "" {
		t.Errorf("h1's devices (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]any{"/dev/sdb"}, lvmdDevices(first, h2)); d != "" {
		t.Errorf("h2's devices, its member kept (-want +got):\n%s", d)
	}

	if d := cmp.Diff(first, render(nodes())); d != "" {
		t.Errorf("the same reports render other objects (-first +second):\n%s", d)
	}

	grown := render(nodes(disk("/dev/sdc")))
	if d := cmp.Diff([]any{"/dev/sdb", "/dev/sdc"}, lvmdDevices(grown, h2)); d != "" {
		t.Errorf("h2's devices after a new disk (-want +got):\n%s", d)
	}
	checksum := func(objs map[string]*unstructured.Unstructured, rel string) string {
		ann, _, _ := unstructured.NestedStringMap(objs[rel+"-node"].Object, "spec", "template", "metadata", "annotations")
		return ann["checksum/config"]
	}
	if checksum(first, h2) == checksum(grown, h2) {
		t.Errorf("h2's pod template did not change with its configuration: no rollout, no prepare")
	}
	if d := cmp.Diff(first[h1+"-node"], grown[h1+"-node"]); d != "" {
		t.Errorf("h1's DaemonSet changed with h2's disks (-before +after):\n%s", d)
	}
}

func keys(m map[string]*unstructured.Unstructured) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
