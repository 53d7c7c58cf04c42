//go:build integration

package report_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/toposuite/toposuite/internal/operator/report"
	"github.com/toposuite/toposuite/internal/testutil"
)

// TestIntegrationWriteList writes reports through a real API server, reads
// them back, and checks that a report belongs to its Node when there is one.
func TestIntegrationWriteList(t *testing.T) {
	_, c := testutil.APIServer(t)
	ctx := t.Context()
	const ns = "default"
	testutil.Node(t, c, "node-b")

	at := metav1.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	b := report.NodeReport{Node: "node-b", Updated: at,
		Discovered: []report.Device{{Path: "/dev/sdd", Model: "QEMU", Size: 1 << 30, Rotational: true, ByID: []string{"/dev/disk/by-id/x"}}},
		Pools:      []report.Pool{{Name: "pool", Path: "/mnt/pool", Size: 100, Free: 50, Devices: []string{"/dev/sde"}}}}
	a := report.NodeReport{Node: "node-a", Updated: at, Errors: []string{"cannot list volume groups"}}
	for _, r := range []report.NodeReport{b, a} {
		if err := report.Write(ctx, c, ns, r); err != nil {
			t.Fatal(err)
		}
	}
	// A second write replaces the first.
	b.Pools[0].Free = 40
	if err := report.Write(ctx, c, ns, b); err != nil {
		t.Fatal(err)
	}
	// Another ConfigMap in the namespace is not a report.
	if err := c.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: ns}}); err != nil {
		t.Fatal(err)
	}

	got, err := report.List(ctx, c, ns)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]report.NodeReport{a, b}, got); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}

	var cm corev1.ConfigMap
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: report.ConfigMapName("node-b")}, &cm); err != nil {
		t.Fatal(err)
	}
	if refs := cm.OwnerReferences; len(refs) != 1 || refs[0].Kind != "Node" || refs[0].Name != "node-b" {
		t.Errorf("node-b's report owners = %+v, want its Node", refs)
	}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: report.ConfigMapName("node-a")}, &cm); err != nil {
		t.Fatal(err)
	}
	if len(cm.OwnerReferences) != 0 {
		t.Errorf("node-a has no Node object, yet its report has owners %+v", cm.OwnerReferences)
	}
}
