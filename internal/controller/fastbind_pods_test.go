package controller

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

func pod(name string, claims ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}}
	for _, c := range claims {
		p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "v", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: c}}})
	}
	return p
}

func TestPodListsReadTheNamespace(t *testing.T) {
	c := fake.NewClientBuilder().WithObjects(pod("a", "data"), pod("b")).Build()
	l := &podLists{reader: c}
	pods, err := l.list(context.Background(), "ns")
	if err != nil || len(pods) != 2 {
		t.Fatalf("%d pods, %v; want 2", len(pods), err)
	}
	if pods, _ := l.list(context.Background(), "other"); len(pods) != 0 {
		t.Errorf("namespace other: %d pods", len(pods))
	}
}

func TestPodNamesClaim(t *testing.T) {
	eph := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: corev1.PodSpec{Volumes: []corev1.Volume{
		{Name: "cache", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{}}}}}}
	for _, tc := range []struct {
		pod   *corev1.Pod
		claim string
		want  bool
	}{
		{pod("p", "data"), "data", true},
		{pod("p", "other"), "data", false},
		{pod("p"), "data", false},
		{eph, "web-cache", true},
		{eph, "cache", false},
	} {
		if got := podNamesClaim(tc.pod, tc.claim); got != tc.want {
			t.Errorf("pod %s, claim %q: %v, want %v", tc.pod.Name, tc.claim, got, tc.want)
		}
	}
}

// The last holder of a claim that goes frees it: the claim is woken once
// and then let go without another pod list.
func TestHeldClaimsFreedByTheirLastPod(t *testing.T) {
	var h heldClaims
	claim := func(name, uid string) *corev1.PersistentVolumeClaim {
		return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID(uid)}}
	}
	a, b := claim("a", "1"), claim("b", "2")
	h.hold(a, []string{"p1", "p2"})
	h.hold(b, []string{"p2"})
	if got := h.of(context.Background(), pod("p1")); len(got) != 0 {
		t.Errorf("p1 woke %v; a is still held by p2", got)
	}
	if h.freed(a) {
		t.Error("a freed while p2 holds it")
	}
	got := h.of(context.Background(), pod("p2"))
	if len(got) != 2 {
		t.Errorf("p2 woke %v, want a and b", got)
	}
	if !h.freed(a) || h.freed(a) {
		t.Error("a is freed exactly once")
	}
	if h.freed(claim("b", "3")) {
		t.Error("a new claim of the same name was freed by the old one's pods")
	}
	if len(h.claims) != 0 {
		t.Errorf("%d claims kept", len(h.claims))
	}
}
