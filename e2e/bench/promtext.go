package bench

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// sampleLine is one sample, labelled or not, in Prometheus' text format.
var sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? ([0-9.eE+-]+)$`)

var labelPair = regexp.MustCompile(`(\w+)="([^"]*)"`)

// sample is one value of a metric with its labels.
type sample struct {
	labels map[string]string
	value  float64
}

// samples returns the samples of the metric name in a /metrics
// page (Prometheus' text format).
func samples(text, name string) []sample {
	var out []sample
	for _, line := range strings.Split(text, "\n") {
		m := sampleLine.FindStringSubmatch(line)
		if m == nil || m[1] != name {
			continue
		}
		s := sample{labels: map[string]string{}}
		for _, kv := range labelPair.FindAllStringSubmatch(m[2], -1) {
			s.labels[kv[1]] = kv[2]
		}
		s.value, _ = strconv.ParseFloat(m[3], 64)
		out = append(out, s)
	}
	return out
}

// metricsPages reads /metrics of every running pod selected in namespace,
// through the API server's pod proxy.
func metricsPages(ctx context.Context, cs kubernetes.Interface, namespace, selector, port string) ([]string, error) {
	pods, err := cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, err
	}
	var pages []string
	for _, p := range pods.Items {
		if p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
			continue
		}
		b, err := cs.CoreV1().Pods(namespace).ProxyGet("http", p.Name, port, "/metrics", nil).DoRaw(ctx)
		if err != nil {
			return nil, fmt.Errorf("/metrics of %s: %w", p.Name, err)
		}
		pages = append(pages, string(b))
	}
	return pages, nil
}
