package daemon

import (
	"context"
	"errors"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"

	"github.com/toposuite/toposuite/internal/grpcserver"
	"github.com/toposuite/toposuite/internal/httpserver"
)

// Instance is a running storage daemon: a backend, its capacity hub and the
// gRPC server, wired the same way whether the daemon runs standalone on a
// socket or embedded in a node plugin.
type Instance struct {
	Hub    *Hub
	Server *grpc.Server
	log    logr.Logger
}

// Start wires a backend into a daemon and starts polling for capacity;
// polling stops when ctx ends.
func Start(ctx context.Context, b Backend, poll time.Duration, log logr.Logger) *Instance {
	hub := NewHub(b, poll, log.WithName("capacity"))
	go hub.Run(ctx)
	return &Instance{Hub: hub, Server: NewGRPCServer(NewServer(b, hub, ctx.Done()), log.WithName("grpc")), log: log}
}

// ServeUnix serves on a 0600 unix socket until ctx ends, then shuts down
// gracefully and removes the socket.
func (i *Instance) ServeUnix(ctx context.Context, path string) error {
	i.log.Info("serving", "socket", path)
	return grpcserver.ServeUnix(ctx, i.Server, path, 10*time.Second)
}

// Ready reports whether the daemon has capacity figures and its last poll
// worked: what a readiness probe should check.
func (i *Instance) Ready() error {
	if _, ok := i.Hub.Latest(); !ok {
		return errors.New("no capacity figures yet")
	}
	return i.Hub.Err()
}

// ServeOptions say where a standalone daemon serves.
type ServeOptions struct {
	Socket string
	// MetricsAddress serves /metrics, /healthz and /readyz; empty disables.
	MetricsAddress string
	NodeName       string
	MetricNames    MetricNames
}

// Run serves the daemon on its socket and, when asked, its metrics and
// health endpoints, until ctx ends or one of them fails.
func (i *Instance) Run(ctx context.Context, o ServeOptions) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return i.ServeUnix(ctx, o.Socket) })
	if o.MetricsAddress != "" {
		reg := prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
			NewCapacityCollector(i.Hub.Latest, o.NodeName, o.MetricNames))
		g.Go(func() error { return httpserver.Serve(ctx, o.MetricsAddress, httpserver.Handler(reg, i.Ready)) })
	}
	return g.Wait()
}
