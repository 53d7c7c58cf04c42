package daemon

import (
	"context"
	"fmt"
	"net"
	"runtime/debug"
	"time"

	"github.com/go-logr/logr"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	api "github.com/toposuite/toposuite/internal/daemonapi"
)

// NewGRPCServer returns a gRPC server with the daemon service registered,
// every call logged (method, code, duration) and panics turned into Internal
// errors instead of killing the daemon.
func NewGRPCServer(svc api.StorageDaemonServer, log logr.Logger) *grpc.Server {
	s := grpc.NewServer(
		grpc.ChainUnaryInterceptor(unaryLogger(log)),
		grpc.ChainStreamInterceptor(streamLogger(log)),
	)
	api.RegisterStorageDaemonServer(s, svc)
	return s
}

func unaryLogger(log logr.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
		start := time.Now()
		defer func() {
			if p := recover(); p != nil {
				err = status.Errorf(codes.Internal, "panic: %v", p)
				log.Error(nil, "panic in handler", "method", info.FullMethod, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			}
			logCall(log, info.FullMethod, req, err, time.Since(start))
		}()
		return h(ctx, req)
	}
}

func streamLogger(log logr.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
		start := time.Now()
		log.V(1).Info("stream opened", "method", info.FullMethod)
		defer func() {
			if p := recover(); p != nil {
				err = status.Errorf(codes.Internal, "panic: %v", p)
				log.Error(nil, "panic in stream handler", "method", info.FullMethod, "panic", fmt.Sprint(p))
			}
			logCall(log, info.FullMethod, nil, err, time.Since(start))
		}()
		return h(srv, ss)
	}
}

// logCall logs one finished call. Requests of this API carry no secrets,
// so they are logged as they are.
func logCall(log logr.Logger, method string, req any, err error, d time.Duration) {
	kv := []any{"method", method, "code", status.Code(err).String(), "durationMs", float64(d.Microseconds()) / 1000}
	if req != nil {
		kv = append(kv, "request", fmt.Sprint(req))
	}
	if err != nil {
		log.Info("call failed", append(kv, "error", err.Error())...)
		return
	}
	log.V(1).Info("call", kv...)
}

// Serve serves s on l until ctx ends, then stops gracefully: calls in flight
// finish (Watch streams are ended) within grace, after which it stops hard.
func Serve(ctx context.Context, s *grpc.Server, l net.Listener, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	done := make(chan struct{})
	go func() { s.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		s.Stop()
		<-done
	}
	return nil
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
