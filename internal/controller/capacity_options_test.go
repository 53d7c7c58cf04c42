package controller

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/toposuite/toposuite/csi"
	api "github.com/toposuite/toposuite/internal/daemonapi"
	"github.com/toposuite/toposuite/internal/scheme"
)

// The figures per options class reach the Node (under the default class's
// key too), and figures of options classes the daemon no longer has leave
// it. An options class whose name cannot make a key is left out.
func TestOptionsClassAnnotations(t *testing.T) {
	d := csi.LVMDriver("topolvm.io")
	msg := &api.CapacityResponse{Classes: []*api.ClassCapacity{
		{Name: "ssd", Default: true, AvailableBytes: 200, OptionsClassAvailableBytes: map[string]int64{"raid1": 96, "raid.5": 7}},
		{Name: "thin", AvailableBytes: 300},
	}}
	got := Annotations(d, msg)
	want := map[string]string{
		"capacity.topolvm.io/ssd": "200", "capacity.topolvm.io/00default": "200", "capacity.topolvm.io/thin": "300",
		"options-capacity.topolvm.io/ssd.raid1": "96", "options-capacity.topolvm.io/00default.raid1": "96",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("annotations (-want +got):\n%s", diff)
	}

	node := &corev1.Node{}
	node.Annotations = map[string]string{
		"options-capacity.topolvm.io/ssd.raid5": "5",  // an options class the daemon no longer has
		"options-capacity.topols.io/pool.raid1": "5",  // another driver's: kept
		"options-capacity.topolvm.io/ssd.raid1": "90", // set anyway
	}
	previous := map[string]string{"options-capacity.topolvm.io/hdd.raid1": "9"}
	patch := capacityPatch(node, d, previous, got, 7)
	for k, v := range map[string]*string{
		"options-capacity.topolvm.io/ssd.raid5": nil, "options-capacity.topolvm.io/hdd.raid1": nil,
	} {
		if p, ok := patch[k]; !ok || p != v {
			t.Errorf("patch[%s] = %v (present %v), want removed", k, p, ok)
		}
	}
	if _, ok := patch["options-capacity.topols.io/pool.raid1"]; ok {
		t.Error("the patch touches another driver's annotation")
	}
	if p := patch["options-capacity.topolvm.io/ssd.raid1"]; p == nil || *p != "96" {
		t.Errorf("patch sets raid1 to %v, want 96", p)
	}
}

// NodeCapacity reads the options class's figure when asked for one; a
// node that publishes none has no room for such volumes.
func TestNodeCapacityOfOptionsClass(t *testing.T) {
	s, err := scheme.New()
	if err != nil {
		t.Fatal(err)
	}
	d := csi.LVMDriver("topolvm.io")
	node := func(name string, a map[string]string) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: a}}
	}
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(
		node("n1", map[string]string{"capacity.topolvm.io/ssd": "100", "options-capacity.topolvm.io/ssd.raid1": "40"}),
		node("old", map[string]string{"capacity.topolvm.io/ssd": "500"}), // a node plugin that publishes no options figures
	).Build()
	nc := NewNodeCapacity(c, d)
	ctx := context.Background()
	for _, tc := range []struct {
		node, options string
		want          int64
	}{{"n1", "", 100}, {"n1", "raid1", 40}, {"old", "", 500}, {"old", "raid1", 0}, {"n1", "raid.1", 0}} {
		if got, err := nc.Available(ctx, tc.node, "ssd", tc.options); err != nil || got != tc.want {
			t.Errorf("Available(%s, ssd, %q) = %d, %v; want %d", tc.node, tc.options, got, err, tc.want)
		}
	}
	nodes, err := nc.Nodes(ctx, "ssd", "raid1")
	if err != nil || !cmp.Equal(nodes, map[string]int64{"n1": 40}) {
		t.Errorf("Nodes(ssd, raid1) = %v, %v; want only n1", nodes, err)
	}
}
