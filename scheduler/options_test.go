package scheduler

import (
	"context"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/toposuite/toposuite/csi"
)

// Pods that need volumes made with an lvcreate options class (RAID,
// stripes) are filtered and scored by the nodes' figures for that options
// class, and what the ledger holds of them counts under that key and
// against the class's other figures.

// raidNodes: n1 has more free space, n2 more room for raid1 volumes.
func raidNodes() map[string]map[string]string {
	return map[string]map[string]string{
		"n1": {"capacity.topolvm.io/ssd": strconv.FormatInt(100*gi, 10), "options-capacity.topolvm.io/ssd.raid1": strconv.FormatInt(40*gi, 10)},
		"n2": {"capacity.topolvm.io/ssd": strconv.FormatInt(60*gi, 10), "options-capacity.topolvm.io/ssd.raid1": strconv.FormatInt(50*gi, 10)},
		"n3": {"capacity.topolvm.io/ssd": strconv.FormatInt(500*gi, 10)}, // publishes no options figures
	}
}

func raidPod(uid string, raid1, plain int64) *corev1.Pod {
	ann := map[string]string{}
	if raid1 > 0 {
		ann["options-capacity.topolvm.io/ssd.raid1"] = strconv.FormatInt(raid1, 10)
	}
	if plain > 0 {
		ann["capacity.topolvm.io/ssd"] = strconv.FormatInt(plain, 10)
	}
	return capPod(uid, ann)
}

func TestPodNeedsOfOptionsClass(t *testing.T) {
	got, err := podNeeds(raidPod("u", 3*gi, gi), []csi.Driver{csi.LVMDriver("topolvm.io")})
	want := []need{{classKey{"topolvm.io", "ssd", ""}, gi}, {classKey{"topolvm.io", "ssd", "raid1"}, 3 * gi}}
	if err != nil || len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("needs = %v, %v; want %v", got, err, want)
	}
	k := newAnnotationKeys([]csi.Driver{csi.LVMDriver("topolvm.io")})
	if !k.keep("options-capacity.topolvm.io/ssd.raid1") || k.keep("options-capacity.topols.io/ssd.raid1") {
		t.Error("the node annotations kept are wrong")
	}
	f := k.figures(raidNodes()["n1"])
	if f.free[classKey{"topolvm.io", "ssd", "raid1"}] != 40*gi || f.free[classKey{"topolvm.io", "ssd", ""}] != 100*gi {
		t.Errorf("figures = %v", f.free)
	}
}

// Before, the webhook summed a raid1 volume into the class's key and n1,
// with 100 GiB free, took a 45 GiB raid1 volume it has room for 40 GiB of.
func TestFilterByOptionsClassFigure(t *testing.T) {
	e := testExtender(t, nil)
	r := fullRequest(raidPod("u", 45*gi, 0), raidNodes())
	v, err := e.Filter(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if got := passed(v, r); strings.Join(got, ",") != "n2" {
		t.Errorf("passed %v, want n2", got)
	}
	if want := "not enough topolvm.io class ssd with options class raid1: pod needs 48318382080 bytes, 42949672960 free"; v[0].reason != want {
		t.Errorf("n1's reason %q, want %q", v[0].reason, want)
	}
	if want := "node has no topolvm.io class ssd with options class raid1"; v[2].reason != want {
		t.Errorf("n3's reason %q, want %q", v[2].reason, want)
	}

	// The same pod's volumes of one class take the same volume group: 30
	// GiB of raid1 and 60 GiB plain fit neither node, though each alone
	// would fit n1 and n2.
	r = fullRequest(raidPod("w", 30*gi, 60*gi), raidNodes())
	if v, err = e.Filter(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if got := passed(v, r); len(got) != 0 {
		t.Errorf("passed %v, want none", got)
	}
}

func TestPrioritizeByOptionsClassFigure(t *testing.T) {
	e := testExtender(t, nil)
	scores, err := e.Prioritize(context.Background(), fullRequest(raidPod("u", 10*gi, 0), raidNodes()))
	if err != nil {
		t.Fatal(err)
	}
	// Spread: n2 keeps 40 GiB of raid1 room (5 points), n1 30 GiB (4).
	if scores[0].Score != 4 || scores[1].Score != 5 || scores[2].Score != 0 {
		t.Errorf("scores %v, want n1 4, n2 5, n3 0", scores)
	}
}

// A volume made with an options class that the node has not counted yet
// is held under its options class's key, and against the class's plain
// figure by its estimated footprint: n2's 60 GiB plain and 50 GiB raid1
// figures make a 30 GiB raid1 volume count 36 GiB there.
func TestLedgerHoldsOptionsClassVolumes(t *testing.T) {
	e := testExtender(t, nil)
	lvs, pvcs, classes := e.ledger.Handlers()
	pending := lv("pvc-0b2f8a6e-9a51-4a43-8d3a-0d1f1c6a2a09", "n2", "ssd", 30*gi, "", 0)
	pending.Spec.OptionsClass = "raid1"
	lvs.OnAdd(pending, false)
	raid1 := classKey{"topolvm.io", "ssd", "raid1"}
	if got := reserved(e, "n2", raid1, 0); got != 30*gi {
		t.Errorf("reserved under raid1: %d, want %d", got, 30*gi)
	}
	if got := reserved(e, "n2", classKey{"topolvm.io", "ssd", ""}, 0); got != 0 {
		t.Errorf("reserved under the plain key: %d, want 0", got)
	}
	for _, tc := range []struct {
		pod  *corev1.Pod
		pass bool
	}{
		{raidPod("a", 20*gi, 0), true},  // 50 - 30 (+ nothing plain)
		{raidPod("b", 21*gi, 0), false}, // more than the 20 left
		{raidPod("c", 0, 24*gi), true},  // 60 - 36
		{raidPod("d", 0, 25*gi), false}, // before: 60 - 30 left room for it, and lvcreate failed
	} {
		r := fullRequest(tc.pod, map[string]map[string]string{"n2": raidNodes()["n2"]})
		v, err := e.Filter(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		if v[0].pass != tc.pass {
			t.Errorf("pod %s: pass %v (%s), want %v", tc.pod.UID, v[0].pass, v[0].reason, tc.pass)
		}
		e.flights.forget(tc.pod.UID) // each pod alone against the ledger
	}

	// A claim selected for a node holds its StorageClass's options class.
	sc := "lvm-raid1"
	classes.OnAdd(&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: sc}, Provisioner: "topolvm.io",
		Parameters: map[string]string{"topolvm.io/device-class": "ssd", "topolvm.io/lvcreate-option-class": "raid1"}}, false)
	pvcs.OnAdd(&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "ns", UID: types.UID("0b2f8a6e-9a51-4a43-8d3a-0d1f1c6a2a10"),
		Annotations: map[string]string{selectedNodeAnnotation: "n1"}},
		Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &sc, Resources: corev1.VolumeResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceStorage: *resource.NewQuantity(5*gi, resource.BinarySI)}}}}, false)
	if got := reserved(e, "n1", raid1, 0); got != 5*gi {
		t.Errorf("selected raid1 claim: reserved %d, want %d", got, 5*gi)
	}
}

// A layout the node has no room left in makes the class's other figures
// count its pending volumes as taking everything: safe until the node
// publishes figures with them.
func TestFootprintEstimate(t *testing.T) {
	k := newAnnotationKeys([]csi.Driver{csi.LVMDriver("topolvm.io")})
	p := placement{name: "n", figs: k.figures(map[string]string{
		"capacity.topolvm.io/ssd": "1000", "options-capacity.topolvm.io/ssd.raid1": "400", "options-capacity.topolvm.io/ssd.raid5": "0",
	})}
	for _, tc := range []struct {
		o    string
		n    int64
		want int64
	}{{"", 10, 10}, {"raid1", 10, 25}, {"raid5", 10, 1<<63 - 1}} {
		if got := p.footprint(classKey{"topolvm.io", "ssd", tc.o}, tc.n); got != tc.want {
			t.Errorf("footprint of %d bytes of %q = %d, want %d", tc.n, tc.o, got, tc.want)
		}
	}
}
