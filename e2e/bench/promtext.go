package bench

import (
	"regexp"
	"strconv"
	"strings"
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
