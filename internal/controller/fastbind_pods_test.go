package controller

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

// gatedReader counts lists and holds each one, read, until the test lets
// it go.
type gatedReader struct {
	client.Reader
	lists   atomic.Int32
	started chan struct{}
	gate    chan struct{}
}

func (r *gatedReader) List(ctx context.Context, l client.ObjectList, opts ...client.ListOption) error {
	r.lists.Add(1)
	err := r.Reader.List(ctx, l, opts...)
	r.started <- struct{}{}
	<-r.gate
	return err
}

func pod(name string, claims ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}}
	for _, c := range claims {
		p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "v", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: c}}})
	}
	return p
}

func TestPodListsShareAListStartedAfterTheAsk(t *testing.T) {
	c := fake.NewClientBuilder().WithObjects(pod("early")).Build()
	r := &gatedReader{Reader: c, started: make(chan struct{}, 8), gate: make(chan struct{})}
	l := newPodLists(r)
	ctx := context.Background()

	first := make(chan []corev1.Pod)
	go func() { pods, _ := l.list(ctx, "ns"); first <- pods }()
	<-r.started // the first list runs and is held

	// A pod made now is not in the running list; callers asking now get
	// the next list, one for all of them.
	if err := c.Create(ctx, pod("late")); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	later := make([][]corev1.Pod, 3)
	for i := range later {
		wg.Go(func() { later[i], _ = l.list(ctx, "ns") })
	}
	waitFor(t, func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.waiting["ns"] != nil && l.waiting["ns"].shared == 3
	})
	// The first list ends; the next starts.
	r.gate <- struct{}{}
	if got := len(<-first); got != 1 {
		t.Errorf("the first list has %d pods, want 1", got)
	}
	<-r.started
	r.gate <- struct{}{}
	wg.Wait()
	for i, pods := range later {
		if len(pods) != 2 {
			t.Errorf("caller %d: %d pods, want 2 (the list started after it asked)", i, len(pods))
		}
	}
	if n := r.lists.Load(); n != 2 {
		t.Errorf("%d lists for 4 callers, want 2", n)
	}
}

// waitFor polls cond; the goroutines it waits for need no time, only turns.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 1_000_000 {
		if cond() {
			return
		}
		runtime.Gosched()
	}
	t.Fatal("condition never held")
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
