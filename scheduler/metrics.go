package scheduler

import "github.com/prometheus/client_golang/prometheus"

// metrics of the extender, registered by Register.
type metrics struct {
	requests     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	filtered     prometheus.Counter
	inFlightWait prometheus.Histogram
}

func newMetrics() *metrics {
	return &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "topolvm_scheduler_requests_total",
			Help: "Extender requests by verb and HTTP status code.",
		}, []string{"verb", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "topolvm_scheduler_request_duration_seconds",
			Help:    "Time to answer an extender request, from the first byte read to the last written.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}, []string{"verb"}),
		filtered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "topolvm_scheduler_filtered_nodes_total",
			Help: "Nodes the filter verb turned down for lack of capacity.",
		}),
		inFlightWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "topolvm_scheduler_inflight_wait_seconds",
			Help:    "Time filter requests waited for the placement of the pods scheduled just before them.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 13),
		}),
	}
}

// Register adds the extender's metrics to r.
func (e *Extender) Register(r prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{e.metrics.requests, e.metrics.duration, e.metrics.filtered, e.metrics.inFlightWait} {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}
