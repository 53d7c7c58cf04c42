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

// A pod that goes wakes the held claims of its namespace, and only those
// still held.
func TestHeldClaimsOfAGonePod(t *testing.T) {
	var h heldClaims
	h.set("ns", "a", true)
	h.set("ns", "b", true)
	h.set("other", "c", true)
	h.set("ns", "b", false)
	got := h.in(context.Background(), pod("gone"))
	if len(got) != 1 || got[0].Namespace != "ns" || got[0].Name != "a" {
		t.Errorf("woken: %v, want ns/a", got)
	}
	h.set("ns", "a", false)
	if got := h.in(context.Background(), pod("gone")); len(got) != 0 || len(h.byNS) != 1 {
		t.Errorf("woken %v with nothing held in ns; namespaces kept %d, want 1", got, len(h.byNS))
	}
}
