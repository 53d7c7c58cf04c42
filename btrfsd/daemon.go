package btrfsd

import (
	"context"

	"github.com/go-logr/logr"

	"github.com/toposuite/toposuite/btrfsd/config"
	"github.com/toposuite/toposuite/internal/daemon"
)

// MetricNames are TopoLS's capacity gauges, labelled with node and pool.
var MetricNames = daemon.MetricNames{
	ClassLabel:     "pool",
	SizeBytes:      "topols_pool_size_bytes",
	AvailableBytes: "topols_pool_available_bytes",
}

// Start validates cfg, checks the pools and starts btrfsd's daemon
// (capacity polling until ctx ends). Standalone btrfsd serves the result on
// its socket; topols-node serves it in process. Both come through here.
func Start(ctx context.Context, cfg *config.Config, log logr.Logger) (*daemon.Instance, error) {
	b, err := New(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	return daemon.Start(ctx, b, cfg.PollInterval.Duration, log), nil
}
