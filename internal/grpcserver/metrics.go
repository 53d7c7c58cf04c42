package grpcserver

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/status"
)

// Metrics count a server's calls by method and code and time them.
type Metrics struct {
	calls   *prometheus.CounterVec
	seconds *prometheus.HistogramVec
}

// NewMetrics registers <name>_grpc_requests_total{method,code} and
// <name>_grpc_request_duration_seconds{method} with reg. A second server of
// the same name in one process shares the first one's series.
func NewMetrics(reg prometheus.Registerer, name string) (*Metrics, error) {
	m := &Metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: name + "_grpc_requests_total", Help: "gRPC requests by method and code.",
		}, []string{"method", "code"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: name + "_grpc_request_duration_seconds", Help: "gRPC request latency by method.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"method"}),
	}
	if err := register(reg, &m.calls); err != nil {
		return nil, err
	}
	if err := register(reg, &m.seconds); err != nil {
		return nil, err
	}
	return m, nil
}

func register[C prometheus.Collector](reg prometheus.Registerer, c *C) error {
	err := reg.Register(*c)
	var already prometheus.AlreadyRegisteredError
	if errors.As(err, &already) {
		*c = already.ExistingCollector.(C)
		return nil
	}
	return err
}

func (m *Metrics) observe(method string, err error, d time.Duration) {
	if m == nil {
		return
	}
	m.calls.WithLabelValues(method, status.Code(err).String()).Inc()
	m.seconds.WithLabelValues(method).Observe(d.Seconds())
}
