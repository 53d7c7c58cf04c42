package status

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/toposuite/toposuite/internal/api/operator/v1alpha1"
	"github.com/toposuite/toposuite/internal/operator/report"
)

func node(name string, labels map[string]string) corev1.Node {
	return corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

func TestNodes(t *testing.T) {
	groups := []v1alpha1.NodeGroup{
		{Name: "ssd", NodeSelector: map[string]string{"disk": "ssd"}},
		{Name: "zone-a", NodeSelector: map[string]string{"zone": "a"}},
	}
	nodes := []corev1.Node{
		node("n3", map[string]string{"disk": "ssd", "zone": "a"}),
		node("n1", map[string]string{"disk": "ssd"}),
		node("n2", nil),
	}
	reports := []report.NodeReport{{
		Node:         "n1",
		VolumeGroups: []report.VolumeGroup{{Name: "vg", Size: 10, Free: 4, Devices: []string{"/dev/loop1"}, Refused: []report.Refusal{{Device: "/dev/loop2", Reason: "filesystem"}}}},
		Discovered:   []report.Device{{Path: "/dev/loop3", Size: 5}},
	}}
	got, problems := Nodes(groups, nodes, reports)
	want := []v1alpha1.NodeStatus{
		{Name: "n1", Group: "ssd",
			VolumeGroups:      []v1alpha1.StorageStatus{{Name: "vg", Size: 10, Free: 4, Devices: []string{"/dev/loop1"}, Refused: []v1alpha1.RefusedDevice{{Device: "/dev/loop2", Reason: "filesystem"}}}},
			DiscoveredDevices: []v1alpha1.DiscoveredDevice{{Path: "/dev/loop3", Size: 5}}},
		{Name: "n3", Group: "ssd"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("node status (-want +got):\n%s", d)
	}
	if len(problems) != 2 {
		t.Fatalf("problems: %+v", problems)
	}
	for _, p := range problems {
		switch p.Reason {
		case v1alpha1.ReasonNodeInTwoGroups:
			if !strings.Contains(p.Message, "n3") || !strings.Contains(p.Message, "ssd and zone-a") {
				t.Errorf("overlap problem does not name the node and both groups: %s", p.Message)
			}
		case v1alpha1.ReasonDeviceRefused:
			if !strings.Contains(p.Message, "/dev/loop2") || !strings.Contains(p.Message, "filesystem") || !strings.Contains(p.Message, "n1") {
				t.Errorf("refusal problem does not name node, device and reason: %s", p.Message)
			}
		default:
			t.Errorf("unexpected problem %+v", p)
		}
	}
}

func TestSetConditions(t *testing.T) {
	var conds []metav1.Condition
	Set(&conds, 3, nil, []string{"DaemonSet x: 0 of 1"}, "")
	ready := conds[2]
	if ready.Type != v1alpha1.ConditionReady || ready.Status != metav1.ConditionFalse || ready.ObservedGeneration != 3 {
		t.Errorf("while rolling out: %+v", conds)
	}
	Set(&conds, 3, []Problem{{v1alpha1.ReasonDeviceRefused, "node n: device d refused"}}, nil, "")
	for _, c := range conds {
		if c.Type == v1alpha1.ConditionDegraded && (c.Status != metav1.ConditionTrue || c.Reason != v1alpha1.ReasonDeviceRefused) {
			t.Errorf("degraded: %+v", c)
		}
	}
	Set(&conds, 4, nil, nil, "the rule is not applied")
	for _, c := range conds {
		want := metav1.ConditionFalse
		if c.Type == v1alpha1.ConditionReady {
			want = metav1.ConditionTrue
			// A note tells, without making the cluster less ready.
			if c.Message != "every component runs; the rule is not applied" {
				t.Errorf("Ready message with a note: %q", c.Message)
			}
		}
		if c.Status != want || c.ObservedGeneration != 4 {
			t.Errorf("all good: %+v", c)
		}
	}
}
