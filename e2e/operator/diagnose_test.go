//go:build e2e

package operator

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// diagnose logs what a failed test needs to be understood before the
// cluster goes: every pod with its containers' states, the tails of the
// logs of pods that are not ready, and the recent events.
func diagnose(t *testing.T, cs *kubernetes.Clientset) {
	ctx := context.Background()
	pods, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Logf("diagnose: pods: %v", err)
		return
	}
	for _, p := range pods.Items {
		var states []string
		ready := p.Status.Phase == corev1.PodSucceeded
		for _, c := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
			s := fmt.Sprintf("%s ready=%v restarts=%d", c.Name, c.Ready, c.RestartCount)
			if w := c.State.Waiting; w != nil {
				s += " waiting " + w.Reason + ": " + w.Message
			}
			if x := c.LastTerminationState.Terminated; x != nil {
				s += fmt.Sprintf(" last exit %d %s: %s", x.ExitCode, x.Reason, x.Message)
			}
			states = append(states, s)
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				ready = true
			}
		}
		t.Logf("diagnose: pod %s/%s on %s %s: %s", p.Namespace, p.Name, p.Spec.NodeName, p.Status.Phase, strings.Join(states, "; "))
		if ready {
			continue
		}
		for _, c := range append(append([]corev1.Container{}, p.Spec.InitContainers...), p.Spec.Containers...) {
			lines := int64(20)
			b, err := cs.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{Container: c.Name, TailLines: &lines}).DoRaw(ctx)
			if err == nil && len(b) > 0 {
				t.Logf("diagnose: logs of %s/%s %s:\n%s", p.Namespace, p.Name, c.Name, b)
			}
		}
	}
	events, err := cs.CoreV1().Events("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	sort.Slice(events.Items, func(i, j int) bool { return events.Items[i].LastTimestamp.Before(&events.Items[j].LastTimestamp) })
	if n := len(events.Items); n > 40 {
		events.Items = events.Items[n-40:]
	}
	for _, e := range events.Items {
		if e.Type != corev1.EventTypeNormal {
			t.Logf("diagnose: event %s %s/%s: %s: %s", e.Type, e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, e.Message)
		}
	}
}
