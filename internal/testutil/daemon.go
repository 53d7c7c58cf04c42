package testutil

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/toposuite/toposuite/internal/daemon"
	api "github.com/toposuite/toposuite/internal/daemonapi"
)

// ServeDaemon starts a storage daemon with start, serves it on socket and
// returns a client once it answers, and a stop function that shuts the
// daemon down and fails the test if serving failed.
func ServeDaemon(t testing.TB, socket string, start func(ctx context.Context) (*daemon.Instance, error)) (api.StorageDaemonClient, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	inst, err := start(ctx)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- inst.ServeUnix(ctx, socket) }()
	conn, err := daemon.Dial(socket)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	client := api.NewStorageDaemonClient(conn)
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	_, err = client.GetCapacity(wctx, &api.GetCapacityRequest{}, grpc.WaitForReady(true))
	wcancel()
	if err != nil {
		cancel()
		t.Fatalf("daemon did not come up on %s: %v", socket, err)
	}
	return client, func() {
		conn.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}
}
