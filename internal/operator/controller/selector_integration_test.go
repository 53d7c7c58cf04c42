//go:build integration

package controller_test

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/toposuite/toposuite/internal/api/operator/v1alpha1"
	"github.com/toposuite/toposuite/internal/operator/report"
	"github.com/toposuite/toposuite/internal/operator/values"
	"github.com/toposuite/toposuite/internal/testutil"
)

const selectorYAML = `
apiVersion: operator.topolvm.io/v1alpha1
kind: TopolvmCluster
metadata: {name: topolvm}
spec:
  nodeGroups:
    - name: hdd
      nodeSelector: {disk: hdd}
      volumeGroups: [{name: vg-hdd, deviceSelector: {rotational: true, minSize: 1Gi}}]
      deviceClasses: [{name: hdd, volumeGroup: vg-hdd, default: true}]
`

// TestIntegrationDeviceSelector: node reports written as the agents write
// them decide the node DaemonSets of a group with a deviceSelector: one per
// node with a matching device, with that node's devices; a node without a
// report waits (Progressing), one without a matching device is Degraded; a
// new device in a report grows that node's configuration only.
func TestIntegrationDeviceSelector(t *testing.T) {
	e := startOperator(t, map[string]map[string]string{
		"h1": {"disk": "hdd"}, "h2": {"disk": "hdd"}, "h3": {"disk": "hdd"}, "s1": {"disk": "ssd"}})
	ctx, c := e.ctx, e.c
	hdd := func(path string) report.Device { return report.Device{Path: path, Size: 4 << 30, Rotational: true} }
	write := func(r report.NodeReport) {
		t.Helper()
		if err := report.Write(ctx, c, ns, r); err != nil {
			t.Fatal(err)
		}
	}
	write(report.NodeReport{Node: "h1", Discovered: []report.Device{hdd("/dev/sdb"), {Path: "/dev/nvme0n1", Size: 4 << 30}}})
	write(report.NodeReport{Node: "h2", Discovered: []report.Device{{Path: "/dev/nvme0n1", Size: 4 << 30}}})

	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(selectorYAML), &u.Object); err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, u); err != nil {
		t.Fatal(err)
	}

	rel := func(node string) string { return values.NodeReleaseName("topolvm", "hdd", node) }
	devices := func(node string) []string {
		cm, err := e.get(inventoryKind, ns, rel(node)+"-lvmd")
		if err != nil {
			return nil
		}
		data, _, _ := unstructured.NestedStringMap(cm.Object, "data")
		var cfg struct {
			VolumeGroups []struct {
				Devices []string `json:"devices"`
			} `json:"volumeGroups"`
		}
		if err := yaml.Unmarshal([]byte(data["lvmd.yaml"]), &cfg); err != nil || len(cfg.VolumeGroups) != 1 {
			t.Fatalf("%s lvmd.yaml: %v\n%s", rel(node), err, data["lvmd.yaml"])
		}
		return cfg.VolumeGroups[0].Devices
	}
	testutil.Eventually(t, "h1's DaemonSet with its hdd", func() bool {
		return e.exists(daemonSet, ns, rel("h1")+"-node") && strings.Join(devices("h1"), ",") == "/dev/sdb"
	})
	for _, n := range []string{"h2", "h3", "s1"} {
		if e.exists(daemonSet, ns, rel(n)+"-node") {
			t.Errorf("a node DaemonSet for %s, which has no matching device, no report or is not in the group", n)
		}
	}
	if e.exists(daemonSet, ns, "topolvm-hdd-node") {
		t.Errorf("the group-wide DaemonSet is rendered for a group with a selector")
	}
	ds, _ := e.get(daemonSet, ns, rel("h1")+"-node")
	terms, _, _ := unstructured.NestedSlice(ds.Object, "spec", "template", "spec", "affinity", "nodeAffinity",
		"requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms")
	if b, _ := yaml.Marshal(terms); !strings.Contains(string(b), "- h1") || strings.Contains(string(b), "h2") {
		t.Errorf("h1's DaemonSet is not pinned to h1:\n%s", b)
	}
	testutil.Eventually(t, "h3 waits for its report, h2 has no matching device", func() bool {
		p, d := e.condition(v1alpha1.ConditionProgressing), e.condition(v1alpha1.ConditionDegraded)
		return p != nil && strings.Contains(p.Message, "node h3: waiting for its report") &&
			d != nil && d.Status == metav1.ConditionTrue && d.Reason == v1alpha1.ReasonNoDeviceSelected &&
			strings.Contains(d.Message, "node h2: no free device matches") && !strings.Contains(d.Message, "h1")
	})
	template := func(node string) string {
		ds, err := e.get(daemonSet, ns, rel(node)+"-node")
		if err != nil {
			return ""
		}
		b, _ := yaml.Marshal(ds.Object["spec"].(map[string]any)["template"])
		return string(b)
	}
	h1Before := template("h1")

	// h3 reports a matching device, h2 gets one: each gets its DaemonSet.
	write(report.NodeReport{Node: "h3", Discovered: []report.Device{hdd("/dev/sdc")}})
	write(report.NodeReport{Node: "h2", Discovered: []report.Device{hdd("/dev/sdd"), {Path: "/dev/nvme0n1", Size: 4 << 30}}})
	testutil.Eventually(t, "h2 and h3 served, Degraded cleared", func() bool {
		d := e.condition(v1alpha1.ConditionDegraded)
		return strings.Join(devices("h2"), ",") == "/dev/sdd" && strings.Join(devices("h3"), ",") == "/dev/sdc" &&
			d != nil && d.Status == metav1.ConditionFalse
	})
	// The ConfigMap and the DaemonSet are separate applies: wait for both.
	var h2Before string
	testutil.Eventually(t, "h2's DaemonSet", func() bool { h2Before = template("h2"); return h2Before != "" })

	// The selected device joined h2's volume group and a new disk shows
	// up on h2: h2's configuration (and pod template: a rollout, prepare
	// extends the volume group) grows, keeping the member; h1 is untouched.
	write(report.NodeReport{Node: "h2", Discovered: []report.Device{hdd("/dev/sde")},
		VolumeGroups: []report.VolumeGroup{{Name: "vg-hdd", Size: 4 << 30, Free: 4 << 30, Devices: []string{"/dev/sdd"}}}})
	testutil.Eventually(t, "h2's volume group grows, and its pod template with it", func() bool {
		return strings.Join(devices("h2"), ",") == "/dev/sdd,/dev/sde" && template("h2") != h2Before
	})
	if template("h1") != h1Before {
		t.Errorf("h1's DaemonSet changed with h2's disks")
	}
}
