package controller

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

// A pod that goes wakes the claims it held, only those, once.
func TestHeldClaimsOfAGonePod(t *testing.T) {
	var h heldClaims
	h.hold("ns", "a", []string{"p1", "p2"})
	h.hold("ns", "b", []string{"p2"})
	h.hold("other", "a", []string{"p1"})
	got := h.of(context.Background(), pod("p1"))
	if len(got) != 1 || got[0].Namespace != "ns" || got[0].Name != "a" {
		t.Errorf("p1 woke %v, want ns/a", got)
	}
	if got := h.of(context.Background(), pod("p1")); len(got) != 0 {
		t.Errorf("p1 woke %v again", got)
	}
	if got := h.of(context.Background(), pod("p2")); len(got) != 2 {
		t.Errorf("p2 woke %v, want ns/a and ns/b", got)
	}
	if len(h.byPod) != 1 {
		t.Errorf("%d pods kept, want 1 (other/p1)", len(h.byPod))
	}
}
