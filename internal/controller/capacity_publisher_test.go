package controller

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/toposuite/toposuite/csi"
	api "github.com/toposuite/toposuite/internal/daemonapi"
)

func TestApplyAnnotations(t *testing.T) {
	d := csi.LVMDriver("topolvm.io")
	node := &corev1.Node{}
	node.Annotations = map[string]string{
		"capacity.topolvm.io/old":      "5",   // a class the daemon no longer has
		"capacity.topols.io/fast":      "7",   // another driver's: kept
		"node.alpha.kubernetes.io/ttl": "0",   // not ours: kept
		"capacity.topolvm.io/ssd":      "100", // changes
	}
	msg := &api.CapacityResponse{Classes: []*api.ClassCapacity{{Name: "ssd", Default: true, AvailableBytes: 200}, {Name: "hdd", AvailableBytes: 300}}}
	if !applyAnnotations(node, d, Annotations(d, msg)) {
		t.Fatal("no change reported")
	}
	want := map[string]string{
		"capacity.topols.io/fast": "7", "node.alpha.kubernetes.io/ttl": "0",
		"capacity.topolvm.io/ssd": "200", "capacity.topolvm.io/00default": "200", "capacity.topolvm.io/hdd": "300",
	}
	if diff := cmp.Diff(want, node.Annotations); diff != "" {
		t.Errorf("annotations (-want +got):\n%s", diff)
	}
	if applyAnnotations(node, d, Annotations(d, msg)) {
		t.Error("a second, identical message reported a change")
	}
}
