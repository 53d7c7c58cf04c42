package bench

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/client-go/kubernetes"
)

// extenderNamespace is where the harness installs topolvm-scheduler.
const extenderNamespace = "topolvm-scheduler"

// ExtenderStats are topolvm-scheduler's counters: requests and the seconds
// spent answering them by verb, and the filter requests that waited for
// earlier pods' placement and how long.
type ExtenderStats struct {
	Requests, Seconds  map[string]float64
	Waits, WaitSeconds float64
}

// ReadExtender sums the counters of the extender's replicas, read from
// their /metrics through the API server's pod proxy.
func ReadExtender(ctx context.Context, cs kubernetes.Interface) (ExtenderStats, error) {
	st := ExtenderStats{Requests: map[string]float64{}, Seconds: map[string]float64{}}
	pages, err := metricsPages(ctx, cs, extenderNamespace, "app.kubernetes.io/component=scheduler", "9251")
	if err != nil {
		return st, err
	}
	for _, text := range pages {
		for _, s := range samples(text, "topolvm_scheduler_request_duration_seconds_count") {
			st.Requests[s.labels["verb"]] += s.value
		}
		for _, s := range samples(text, "topolvm_scheduler_request_duration_seconds_sum") {
			st.Seconds[s.labels["verb"]] += s.value
		}
		for _, s := range samples(text, "topolvm_scheduler_inflight_wait_seconds_count") {
			st.Waits += s.value
		}
		for _, s := range samples(text, "topolvm_scheduler_inflight_wait_seconds_sum") {
			st.WaitSeconds += s.value
		}
	}
	return st, nil
}

// Since formats the extender's work since before; empty when it answered
// nothing (no pod asked for capacity).
func (st ExtenderStats) Since(before ExtenderStats) string {
	var parts []string
	for _, verb := range []string{"filter", "prioritize"} {
		n := st.Requests[verb] - before.Requests[verb]
		if n <= 0 {
			continue
		}
		mean := (st.Seconds[verb] - before.Seconds[verb]) / n
		parts = append(parts, fmt.Sprintf("%d %s requests (mean %.1f ms)", int(n), verb, mean*1000))
	}
	if len(parts) == 0 {
		return ""
	}
	if w := st.Waits - before.Waits; w > 0 {
		parts = append(parts, fmt.Sprintf("%d filter requests waited for earlier pods' placement, %.2f s in all", int(w), st.WaitSeconds-before.WaitSeconds))
	}
	return strings.Join(parts, ", ")
}
