package webhook

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// A volume made with an lvcreate options class is counted apart from the
// class's other volumes, under its own key: the extender checks it against
// the node's figure for that options class (a raid1 volume takes twice its
// size, on two PVs). Before, it was summed into the class's key and checked
// against free space.
func TestNeedsPerOptionsClass(t *testing.T) {
	objs := append(cluster(),
		storageClass("lvm-raid1", "topolvm.io", map[string]string{"topolvm.io/lvcreate-option-class": "raid1"}),
		storageClass("lvm-fast-raid1", "topolvm.io", map[string]string{"topolvm.io/device-class": "fast", "topolvm.io/lvcreate-option-class": "raid1"}),
		storageClass("lvm-dotted", "topolvm.io", map[string]string{"topolvm.io/lvcreate-option-class": "raid.1"}),
		claim("mirrored", ptr.To("lvm-raid1"), "10Gi"),
		claim("mirrored-2", ptr.To("lvm-raid1"), "2Gi"),
		claim("fast-mirrored", ptr.To("lvm-fast-raid1"), "1Gi"),
		claim("dotted", ptr.To("lvm-dotted"), "1Gi"),
	)
	m := mutator(t, lvm, objs...)
	ctx := context.Background()
	p := pod("p", pvcVolume("a", "data"), pvcVolume("b", "mirrored"), pvcVolume("c", "mirrored-2"),
		pvcVolume("d", "fast-mirrored"), ephemeralVolume("e", ptr.To("lvm-raid1"), "3Gi"), pvcVolume("f", "dotted"))
	got, err := m.Needs(ctx, ns, p)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]int64{
		"":       {"": 5 * gib},
		"raid1":  {"": 15 * gib, "fast": gib},
		"raid.1": {"": gib},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("needs (-want +got):\n%s", diff)
	}

	out, err := m.mutate(ctx, request(t, p))
	if err != nil {
		t.Fatal(err)
	}
	var mutated corev1.Pod
	if err := json.Unmarshal(out, &mutated); err != nil {
		t.Fatal(err)
	}
	// The dotted options class makes no key: CreateVolume refuses its volume.
	wantAnnotations := map[string]string{
		"capacity.topolvm.io/00default":               "5368709120",
		"options-capacity.topolvm.io/00default.raid1": "16106127360",
		"options-capacity.topolvm.io/fast.raid1":      "1073741824",
	}
	if diff := cmp.Diff(wantAnnotations, mutated.Annotations); diff != "" {
		t.Errorf("annotations (-want +got):\n%s", diff)
	}

	// Stale options keys of the driver are replaced; admitting the mutated
	// pod again changes nothing.
	only := pod("q", pvcVolume("a", "data"))
	only.Annotations = map[string]string{"options-capacity.topolvm.io/ssd.raid1": "1", "options-capacity.topols.io/pool.raid1": "2"}
	out, err = m.mutate(ctx, request(t, only))
	if err != nil {
		t.Fatal(err)
	}
	mutated = corev1.Pod{}
	if err := json.Unmarshal(out, &mutated); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"capacity.topolvm.io/00default": "5368709120", "options-capacity.topols.io/pool.raid1": "2"}, mutated.Annotations); diff != "" {
		t.Errorf("annotations (-want +got):\n%s", diff)
	}
	if again := m.Handle(ctx, request(t, &mutated)); !again.Allowed || len(again.Patches) != 0 {
		t.Errorf("re-admission: allowed %v, patches %v", again.Allowed, again.Patches)
	}
}
