package daemon

import (
	"context"
	"errors"
	"time"

	"github.com/go-logr/logr"
	"google.golang.org/grpc"
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
	l, err := ListenUnix(path)
	if err != nil {
		return err
	}
	i.log.Info("serving", "socket", path)
	return Serve(ctx, i.Server, l, 10*time.Second)
}

// Ready reports whether the daemon has capacity figures and its last poll
// worked: what a readiness probe should check.
func (i *Instance) Ready() error {
	if _, ok := i.Hub.Latest(); !ok {
		return errors.New("no capacity figures yet")
	}
	return i.Hub.Err()
}
