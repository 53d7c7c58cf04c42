//go:build integration

package controller_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/toposuite/toposuite/internal/api/operator/v1alpha1"
	"github.com/toposuite/toposuite/internal/operator/controller"
	"github.com/toposuite/toposuite/internal/operator/report"
	"github.com/toposuite/toposuite/internal/testutil"
)

// The Events a user reads on the TopolvmCluster (kubectl describe
// topolvmcluster), from the operator's real manager over a real API
// server: the charts applied for each new spec, a node refusing a device
// (Degraded), and the cluster well again; nothing more while nothing
// changes.
func TestIntegrationOperatorEvents(t *testing.T) {
	e := startOperator(t, map[string]map[string]string{"n1": {"disk": "ssd"}, "n2": {"disk": "hdd"}})
	e.create(clusterYAML)
	ctx := e.ctx
	// The TopolvmCluster is cluster-scoped: its Events are in default.
	events := func(reason string) []eventsv1.Event {
		var list eventsv1.EventList
		if err := e.c.List(ctx, &list, client.InNamespace("default")); err != nil {
			t.Fatal(err)
		}
		var out []eventsv1.Event
		for _, ev := range list.Items {
			if ev.Regarding.Kind == "TopolvmCluster" && ev.Regarding.Name == v1alpha1.ClusterName && ev.Reason == reason {
				out = append(out, ev)
			}
		}
		return out
	}
	want := func(reason string, n int, typ string, says ...string) {
		t.Helper()
		testutil.Eventually(t, reason+" Event on the TopolvmCluster", func() bool { return len(events(reason)) >= n })
		got := events(reason)
		if len(got) != n {
			t.Errorf("%d %s Events, want %d", len(got), reason, n)
		}
		// A list is in no particular order: the newest Event is the one
		// that says what it must, whichever place it has.
		var notes []string
		saysAll := false
		for _, ev := range got {
			if ev.Type != typ || ev.Regarding.UID != e.cluster().UID || ev.ReportingController != "topolvm-operator" {
				t.Errorf("%s Event: type %s, regarding %+v, reported by %s", reason, ev.Type, ev.Regarding, ev.ReportingController)
			}
			notes = append(notes, ev.Note)
			if all(ev.Note, says) {
				saysAll = true
			}
		}
		if !saysAll {
			t.Errorf("no %s Event says all of %q: %q", reason, says, notes)
		}
	}
	want(controller.EventApplied, 1, corev1.EventTypeNormal, "Applied the charts for generation 1 of the spec")

	err := report.Write(ctx, e.c, ns, report.NodeReport{Node: "n1",
		VolumeGroups: []report.VolumeGroup{{Name: "vg-ssd", Size: 1 << 30, Free: 1 << 29, Devices: []string{"/dev/loop10"},
			Refused: []report.Refusal{{Device: "/dev/loop12", Reason: "filesystem"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	want(v1alpha1.ReasonDeviceRefused, 1, corev1.EventTypeWarning, "/dev/loop12", "Wipe the device or take it out")

	if err := e.c.Delete(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: report.ConfigMapName("n1")}}); err != nil {
		t.Fatal(err)
	}
	want(controller.EventRecovered, 1, corev1.EventTypeNormal, "No longer degraded (was DeviceRefused)")

	// A new spec: one more Applied; the reconciles in between (the
	// report's, the Nodes') recorded no other.
	e.update(func(tc *v1alpha1.TopolvmCluster) { tc.Spec.Components.Metrics.Enabled = false })
	want(controller.EventApplied, 2, corev1.EventTypeNormal, "generation 2")
	want(v1alpha1.ReasonDeviceRefused, 1, corev1.EventTypeWarning)
}

// all tells whether note contains every one of says.
func all(note string, says []string) bool {
	for _, s := range says {
		if !strings.Contains(note, s) {
			return false
		}
	}
	return true
}
