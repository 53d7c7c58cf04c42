package bench

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// FastBindingSteps sums the fast binding steps counted by the driver's
// controller replicas (only the leader takes any), read from their /metrics
// through the API server's pod proxy. Missing is not an error: a chart with
// fast binding off counts nothing.
func FastBindingSteps(ctx context.Context, cs kubernetes.Interface, d Driver) (map[string]float64, error) {
	pods, err := cs.CoreV1().Pods(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/component=controller"})
	if err != nil {
		return nil, err
	}
	steps := map[string]float64{}
	for _, p := range pods.Items {
		if p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
			continue
		}
		b, err := cs.CoreV1().Pods(d.Namespace).ProxyGet("http", p.Name, "8080", "/metrics", nil).DoRaw(ctx)
		if err != nil {
			return nil, fmt.Errorf("/metrics of %s: %w", p.Name, err)
		}
		for _, s := range samples(string(b), "toposuite_controller_fast_binding_steps_total") {
			steps[s.labels["step"]] += s.value
		}
	}
	return steps, nil
}

// StepsSince formats the steps taken since before, in a fixed order.
func StepsSince(before, after map[string]float64) string {
	var parts []string
	for _, s := range []string{"announce", "bind", "unprotect-claim", "release", "unprotect-volume"} {
		parts = append(parts, fmt.Sprintf("%s %d", s, int(after[s]-before[s])))
	}
	return strings.Join(parts, ", ")
}
