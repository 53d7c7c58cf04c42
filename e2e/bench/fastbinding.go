package bench

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/client-go/kubernetes"
)

// FastBindingSteps sums the fast binding steps counted by the driver's
// controller replicas (only the leader takes any), read from their /metrics
// through the API server's pod proxy. Missing is not an error: a chart with
// fast binding off counts nothing.
func FastBindingSteps(ctx context.Context, cs kubernetes.Interface, d Driver) (map[string]float64, error) {
	pages, err := metricsPages(ctx, cs, d.Namespace, "app.kubernetes.io/component=controller", "8080")
	if err != nil {
		return nil, err
	}
	steps := map[string]float64{}
	for _, text := range pages {
		for _, s := range samples(text, "toposuite_controller_fast_binding_steps_total") {
			steps[s.labels["step"]] += s.value
		}
	}
	return steps, nil
}

// fastBindingSteps are the steps fast binding counts, in their order.
var fastBindingSteps = []string{"announce", "bind", "unprotect-claim", "release", "unprotect-volume"}

// StepsSince formats the steps taken since before, in a fixed order.
func StepsSince(before, after map[string]float64) string {
	var parts []string
	for _, s := range fastBindingSteps {
		parts = append(parts, fmt.Sprintf("%s %d", s, int(after[s]-before[s])))
	}
	return strings.Join(parts, ", ")
}
