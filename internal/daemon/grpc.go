package daemon

import (
	"context"
	"fmt"
	"net"

	"github.com/go-logr/logr"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	api "github.com/toposuite/toposuite/internal/daemonapi"
	"github.com/toposuite/toposuite/internal/grpcserver"
)

// NewGRPCServer returns a gRPC server with the daemon service registered
// (requests of this API carry no secrets and are logged as they are).
func NewGRPCServer(svc api.StorageDaemonServer, log logr.Logger) *grpc.Server {
	s := grpcserver.New(log, func(req any) string { return fmt.Sprint(req) }, nil)
	api.RegisterStorageDaemonServer(s, svc)
	return s
}

// InProcess serves s over an in-memory listener and returns a client
// connection to it: the node plugin embeds its daemon this way, with the same
// API, codes and interceptors as over the socket, and no socket file.
// close stops the server and the connection.
func InProcess(s *grpc.Server) (conn *grpc.ClientConn, close func(), err error) {
	l := bufconn.Listen(1 << 20)
	go func() { _ = s.Serve(l) }()
	conn, err = grpc.NewClient("passthrough:///in-process",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return l.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	)
	if err != nil {
		s.Stop()
		return nil, nil, err
	}
	return conn, func() { conn.Close(); s.Stop() }, nil
}

// Dial connects to a daemon's unix socket.
func Dial(socketPath string) (*grpc.ClientConn, error) {
	return grpc.NewClient("unix://"+socketPath, grpc.WithTransportCredentials(insecure.NewCredentials()))
}
