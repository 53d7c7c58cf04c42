package bench

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// The timeline counts the pods its watch reports, and those running; a
// waiter wakes on the change that makes its condition hold.
func TestTimelinePods(t *testing.T) {
	tl := &Timeline{byUID: map[string]*Marks{}, pods: map[string]bool{}, changed: make(chan struct{})}
	pod := func(name string, phase corev1.PodPhase) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: Namespace}, Status: corev1.PodStatus{Phase: phase}}
	}
	tl.pod(pod("a", corev1.PodPending), false)
	tl.pod(pod("b", corev1.PodRunning), false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, _, err := tl.WaitPods(ctx, func(_, running int) bool { return running == 2 })
		done <- err
	}()
	tl.pod(pod("a", corev1.PodRunning), false)
	if err := <-done; err != nil {
		t.Fatalf("waiting for two running pods: %v", err)
	}
	tl.pod(pod("a", corev1.PodRunning), true)
	events(tl.pod).OnDelete(cache.DeletedFinalStateUnknown{Key: Namespace + "/b", Obj: pod("b", corev1.PodRunning)})
	short, cancelShort := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancelShort()
	all, running, err := tl.WaitPods(short, func(all, _ int) bool { return all == 0 })
	if err != nil || all != 0 || running != 0 {
		t.Errorf("after both deletions: %d pods, %d running, %v", all, running, err)
	}
}
