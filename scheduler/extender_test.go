package scheduler

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	v1 "github.com/toposuite/toposuite/internal/api/topolvm/v1"
)

const gi = int64(1) << 30

func testExtender(t testing.TB, mutate func(*Config)) *Extender {
	t.Helper()
	c := &Config{}
	if mutate != nil {
		mutate(c)
	}
	c.Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return NewExtender(c, logr.Discard())
}

func capPod(uid string, ann map[string]string, volumes ...corev1.Volume) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "pod-" + uid, Namespace: "ns", UID: types.UID(uid), Annotations: ann},
		Spec: corev1.PodSpec{Volumes: volumes}}
}

func nodeAnn(free map[string]int64, revision int64) map[string]string {
	out := map[string]string{}
	for k, v := range free {
		out["capacity.topolvm.io/"+k] = strconv.FormatInt(v, 10)
	}
	if revision > 0 {
		out["topolvm.io/capacity-revision"] = strconv.FormatInt(revision, 10)
	}
	return out
}

func fullRequest(pod *corev1.Pod, nodes map[string]map[string]string) *request {
	r := &request{Pod: pod, Full: true}
	for _, name := range []string{"n1", "n2", "n3"} {
		if ann, ok := nodes[name]; ok {
			r.Nodes = append(r.Nodes, candidate{Name: name, Annotations: ann})
		}
	}
	return r
}

func passed(v []verdict, r *request) []string {
	var out []string
	for i, x := range v {
		if x.pass {
			out = append(out, r.Nodes[i].Name)
		}
	}
	return out
}

func TestFilter(t *testing.T) {
	nodes := map[string]map[string]string{
		"n1": nodeAnn(map[string]int64{"00default": 10 * gi, "ssd": 1 * gi}, 0),
		"n2": nodeAnn(map[string]int64{"00default": 2 * gi}, 0),
		"n3": {},
	}
	for _, tc := range []struct {
		name   string
		ann    map[string]string
		want   []string
		reason string // of n2
	}{
		{"no needs", nil, []string{"n1", "n2", "n3"}, ""},
		{"default class", map[string]string{"capacity.topolvm.io/00default": strconv.FormatInt(2*gi, 10)}, []string{"n1", "n2"}, ""},
		{"too big for n2", map[string]string{"capacity.topolvm.io/00default": strconv.FormatInt(3*gi, 10)}, []string{"n1"},
			"not enough topolvm.io default class: pod needs 3221225472 bytes, 2147483648 free"},
		{"two classes", map[string]string{"capacity.topolvm.io/00default": "1", "capacity.topolvm.io/ssd": strconv.FormatInt(gi, 10)}, []string{"n1"}, "node has no topolvm.io class ssd"},
		{"other driver", map[string]string{"capacity.topols.io/pool": "1"}, nil, "node has no topols.io class pool"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := testExtender(t, nil)
			r := fullRequest(capPod("u", tc.ann), nodes)
			v, err := e.Filter(context.Background(), r)
			if err != nil {
				t.Fatal(err)
			}
			if got := passed(v, r); strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("passed %v, want %v", got, tc.want)
			}
			if v[1].reason != tc.reason {
				t.Errorf("n2's reason %q, want %q", v[1].reason, tc.reason)
			}
		})
	}
	e := testExtender(t, nil)
	if _, err := e.Filter(context.Background(), fullRequest(capPod("u", map[string]string{"capacity.topolvm.io/x": "lots"}), nodes)); err == nil {
		t.Error("a malformed pod annotation was accepted")
	}
}

func lv(name, node, class string, size int64, volumeID string, revision int64) *v1.LogicalVolume {
	return &v1.LogicalVolume{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:   v1.LogicalVolumeSpec{DriverName: "topolvm.io", Name: name, NodeName: node, DeviceClass: class, Size: *resource.NewQuantity(size, resource.BinarySI)},
		Status: v1.LogicalVolumeStatus{VolumeID: volumeID, CapacityRevision: revision}}
}

// reserved is what the ledger holds of key k on node beyond the figures
// of revision.
func reserved(e *Extender, node string, k classKey, revision int64) int64 {
	return e.ledger.ReservedOn(node, map[string]int64{k.Driver: revision})[k]
}

func TestLedgerReserves(t *testing.T) {
	e := testExtender(t, nil)
	lvs, pvcs, classes := e.ledger.Handlers()
	k := classKey{Driver: "topolvm.io"}
	uid := "0b2f8a6e-9a51-4a43-8d3a-0d1f1c6a2a01"
	sc := "topolvm"
	classes.OnAdd(&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: sc}, Provisioner: "topolvm.io"}, false)
	claim := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "ns", UID: types.UID(uid),
		Annotations: map[string]string{selectedNodeAnnotation: "n1"}},
		Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &sc, Resources: corev1.VolumeResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceStorage: *resource.NewQuantity(gi, resource.BinarySI)}}}}
	pvcs.OnAdd(claim, false)
	check := func(what string, revision, want int64) {
		t.Helper()
		if got := reserved(e, "n1", k, revision); got != want {
			t.Errorf("%s: reserved %d, want %d", what, got, want)
		}
	}
	check("selected claim", 5, gi)
	pending := lv("pvc-"+uid, "n1", "", gi, "", 0)
	lvs.OnAdd(pending, false)
	check("volume being created (the claim is not counted twice)", 5, gi)
	other := lv("pvc-other-0000-0000-0000-000000000000", "n1", "", 2*gi, "", 0)
	other.Spec.DriverName = "topols.io"
	lvs.OnAdd(other, false)
	check("another driver's volume", 5, gi)
	created := lv("pvc-"+uid, "n1", "", gi, "vol", 9)
	lvs.OnUpdate(pending, created)
	check("created, node at an older revision", 8, gi)
	check("created, node caught up", 9, 0)
	check("created, node without revisions", 0, 0)
	failed := lv("pvc-"+uid, "n1", "", gi, "", 0)
	failed.Status.Code = "ResourceExhausted"
	lvs.OnUpdate(created, failed)
	check("failed volume, claim still selected (until csi-provisioner reschedules it)", 9, gi)
	lvs.OnDelete(failed)
	check("volume deleted, claim selected again", 9, gi)
	bound := claim.DeepCopy()
	bound.Spec.VolumeName = "pv"
	pvcs.OnUpdate(claim, bound)
	check("bound claim", 9, 0)
}

func TestFilterWaitsForTheLastPodsPlacement(t *testing.T) {
	e := testExtender(t, func(c *Config) { c.InFlightWait = &metav1.Duration{Duration: 5 * time.Second} })
	_, pvcs, classes := e.ledger.Handlers()
	sc := "topolvm"
	classes.OnAdd(&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: sc}, Provisioner: "topolvm.io"}, false)
	claim := func(name, uid string) *corev1.PersistentVolumeClaim {
		return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID(uid)},
			Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &sc, Resources: corev1.VolumeResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceStorage: *resource.NewQuantity(6*gi, resource.BinarySI)}}}}
	}
	a, b := claim("a", "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa"), claim("b", "bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb")
	pvcs.OnAdd(a, false)
	pvcs.OnAdd(b, false)
	vol := func(c string) corev1.Volume {
		return corev1.Volume{Name: c, VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: c}}}
	}
	ann := map[string]string{"capacity.topolvm.io/00default": strconv.FormatInt(6*gi, 10)}
	nodes := map[string]map[string]string{"n1": nodeAnn(map[string]int64{"00default": 10 * gi}, 0), "n2": nodeAnn(map[string]int64{"00default": 10 * gi}, 0)}

	ra := fullRequest(capPod("a", ann, vol("a")), nodes)
	if v, _ := e.Filter(context.Background(), ra); len(passed(v, ra)) != 2 {
		t.Fatalf("pod a: %v", v)
	}
	prio, _ := e.Prioritize(context.Background(), ra)
	if len(prio) != 2 || prio[0].Score != prio[1].Score {
		t.Errorf("equal nodes scored %v", prio)
	}
	// Pod b's answer depends on where a went: it waits until a's claim
	// shows its selected node, then n2 alone fits.
	go func() {
		time.Sleep(50 * time.Millisecond)
		sel := a.DeepCopy()
		sel.Annotations = map[string]string{selectedNodeAnnotation: "n1"}
		pvcs.OnUpdate(a, sel)
	}()
	rb := fullRequest(capPod("b", ann, vol("b")), nodes)
	v, err := e.Filter(context.Background(), rb)
	if err != nil {
		t.Fatal(err)
	}
	if got := passed(v, rb); len(got) != 1 || got[0] != "n2" {
		t.Errorf("pod b passed %v, want [n2]; verdicts %v", got, v)
	}
	// The extender's own record of waits, not a clock: b waited once.
	if n := waits(t, e); n != 1 {
		t.Errorf("pod b did not wait for a's placement: %d waits recorded", n)
	}
	// A pod whose answer does not depend on b (it needs little) does not wait.
	small := map[string]string{"capacity.topolvm.io/00default": "1"}
	rc := fullRequest(capPod("c", small), nodes)
	if v, _ := e.Filter(context.Background(), rc); len(passed(v, rc)) != 2 {
		t.Errorf("pod c: %v", v)
	}
	if n := waits(t, e); n != 1 {
		t.Errorf("pod c waited: %d waits recorded", n)
	}
}

// waits is how many filter requests have waited for earlier pods.
func waits(t *testing.T, e *Extender) uint64 {
	t.Helper()
	var m dto.Metric
	if err := e.metrics.inFlightWait.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}

func TestFilterCountsUnresolvedPodsAfterTheWait(t *testing.T) {
	e := testExtender(t, func(c *Config) { c.InFlightWait = &metav1.Duration{Duration: 20 * time.Millisecond} })
	_, pvcs, classes := e.ledger.Handlers()
	sc := "topolvm"
	classes.OnAdd(&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: sc}, Provisioner: "topolvm.io"}, false)
	pvcs.OnAdd(&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "ns"}, Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &sc}}, false)
	ann := map[string]string{"capacity.topolvm.io/00default": strconv.FormatInt(6*gi, 10)}
	nodes := map[string]map[string]string{"n1": nodeAnn(map[string]int64{"00default": 10 * gi}, 0)}
	vol := corev1.Volume{Name: "a", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "a"}}}
	if v, _ := e.Filter(context.Background(), fullRequest(capPod("a", ann, vol), nodes)); !v[0].pass {
		t.Fatal(v)
	}
	v, _ := e.Filter(context.Background(), fullRequest(capPod("b", ann), nodes))
	if v[0].pass || !strings.Contains(v[0].reason, "not visible yet") {
		t.Errorf("pod b on a node pod a may have taken: %+v", v[0])
	}
}

func TestScore(t *testing.T) {
	two := 2.0
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		left   map[classKey]int64
		want   int64
	}{
		{"spread 1 GiB left", nil, map[classKey]int64{{Driver: "topolvm.io"}: gi}, 0},
		{"spread 8 GiB left", nil, map[classKey]int64{{Driver: "topolvm.io"}: 8 * gi}, 3},
		{"spread huge", nil, map[classKey]int64{{Driver: "topolvm.io"}: 1 << 60}, 10},
		{"spread nothing left", nil, map[classKey]int64{{Driver: "topolvm.io"}: -5}, 0},
		{"binpack 8 GiB left", func(c *Config) { c.Scoring = ScoringBinpack }, map[classKey]int64{{Driver: "topolvm.io"}: 8 * gi}, 7},
		{"divisor", func(c *Config) { q := resource.MustParse("4Gi"); c.Divisor = &q }, map[classKey]int64{{Driver: "topolvm.io"}: 8 * gi}, 1},
		{"scarcest class", nil, map[classKey]int64{{Driver: "topolvm.io"}: 64 * gi, {Driver: "topolvm.io", Class: "ssd"}: 2 * gi}, 1},
		{"class weight", func(c *Config) {
			c.Classes = []ClassScoring{{Driver: "topolvm.io", Name: "ssd", Weight: &two}}
		}, map[classKey]int64{{Driver: "topolvm.io"}: 64 * gi, {Driver: "topolvm.io", Class: "ssd"}: 2 * gi}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := testExtender(t, tc.mutate)
			var needs []need
			for k := range tc.left {
				needs = append(needs, need{k, 1})
			}
			if got := e.scorer.node(needs, func(n need) int64 { return tc.left[n.classKey] }); got != tc.want {
				t.Errorf("score %d, want %d", got, tc.want)
			}
		})
	}
}

func TestPrioritizeModes(t *testing.T) {
	nodes := map[string]map[string]string{
		"n1": nodeAnn(map[string]int64{"00default": 100 * gi}, 0),
		"n2": nodeAnn(map[string]int64{"00default": 10 * gi}, 0),
	}
	ann := map[string]string{"capacity.topolvm.io/00default": strconv.FormatInt(gi, 10)}
	for mode, best := range map[string]string{ScoringSpread: "n1", ScoringBinpack: "n2"} {
		e := testExtender(t, func(c *Config) { c.Scoring = mode })
		list, err := e.Prioritize(context.Background(), fullRequest(capPod("u", ann), nodes))
		if err != nil {
			t.Fatal(err)
		}
		top := list[0]
		for _, h := range list {
			if h.Score > top.Score {
				top = h
			}
		}
		if top.Host != best || list[0].Score == list[1].Score {
			t.Errorf("%s: scores %v, want %s best", mode, list, best)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	zero, neg := resource.MustParse("0"), -1.0
	c := &Config{Scoring: "random", Drivers: []string{"a", "a"}, Divisor: &zero, MaxRequestBytes: -1,
		Classes: []ClassScoring{{Driver: "x"}, {Driver: "a", Weight: &neg}, {Driver: "a", Weight: &neg}}, TLS: &TLS{CertFile: "c"}}
	c.Default()
	err := c.Validate()
	for _, want := range []string{`scoring "random"`, `"a" is empty or listed twice`, "divisor 0", "driver is not one of drivers",
		"weight is not a positive number", "listed twice", "keyFile", "maxRequestBytes"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not say %q", err, want)
		}
	}
}

// A pod let through whose claim is deleted before its placement shows
// (the pod and its claims deleted together) holds nothing any more.
func TestFilterForgetsPodsWhoseClaimIsGone(t *testing.T) {
	e := testExtender(t, func(c *Config) { c.InFlightWait = &metav1.Duration{Duration: 20 * time.Millisecond} })
	_, pvcs, classes := e.ledger.Handlers()
	sc := "topolvm"
	classes.OnAdd(&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: sc}, Provisioner: "topolvm.io"}, false)
	a := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "ns"}, Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &sc}}
	pvcs.OnAdd(a, false)
	ann := map[string]string{"capacity.topolvm.io/00default": strconv.FormatInt(6*gi, 10)}
	nodes := map[string]map[string]string{"n1": nodeAnn(map[string]int64{"00default": 10 * gi}, 0)}
	vol := corev1.Volume{Name: "a", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "a"}}}
	if v, _ := e.Filter(context.Background(), fullRequest(capPod("a", ann, vol), nodes)); !v[0].pass {
		t.Fatal(v)
	}
	pvcs.OnDelete(a)
	if v, _ := e.Filter(context.Background(), fullRequest(capPod("b", ann), nodes)); !v[0].pass {
		t.Errorf("pod b refused for a pod whose claim is gone: %+v", v[0])
	}
	if n := waits(t, e); n != 0 {
		t.Errorf("pod b waited for a pod whose claim is gone: %d waits", n)
	}
}

// A growth the node refused holds no capacity: before, the failed size
// stayed reserved and one failed expansion closed the node to new pods.
func TestLedgerFailedGrowthHoldsNothing(t *testing.T) {
	e := testExtender(t, nil)
	lvs, _, _ := e.ledger.Handlers()
	k := classKey{Driver: "topolvm.io"}
	vol := lv("pvc-0b2f8a6e-9a51-4a43-8d3a-0d1f1c6a2a02", "n1", "", gi, "vol", 3)
	vol.Status.CurrentSize = resource.NewQuantity(gi, resource.BinarySI)
	lvs.OnAdd(vol, false)
	growing := vol.DeepCopy()
	growing.Spec.Size = *resource.NewQuantity(100*gi, resource.BinarySI)
	lvs.OnUpdate(vol, growing)
	if got := reserved(e, "n1", k, 3); got != 99*gi {
		t.Errorf("growth in flight: reserved %d, want %d", got, 99*gi)
	}
	refused := growing.DeepCopy()
	refused.Status.Code, refused.Status.Message = "ResourceExhausted", "no room"
	lvs.OnUpdate(growing, refused)
	if got := reserved(e, "n1", k, 3); got != 0 {
		t.Errorf("refused growth, node caught up with the volume: reserved %d, want 0", got)
	}
	if got := reserved(e, "n1", k, 2); got != gi {
		t.Errorf("refused growth, node behind the volume's creation: reserved %d, want the volume's %d", got, gi)
	}
}
