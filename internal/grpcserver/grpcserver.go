// Package grpcserver is how every gRPC server of the suite runs: the
// storage daemons and the CSI plugins alike. It listens on 0600 unix
// sockets (removing only stale ones), logs every call with its method,
// code and duration through a request formatter (CSI requests go through
// protosanitizer so secrets never reach the logs), turns panics into
// Internal errors, and stops gracefully.
package grpcserver

import (
	"context"
	"fmt"
	"net"
	"runtime/debug"
	"time"

	"github.com/go-logr/logr"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Formatter renders a request for the log.
type Formatter func(req any) string

// New returns a server whose calls are logged with format, counted and
// timed in m (nil: not measured), and whose handlers' panics become
// Internal errors.
func New(log logr.Logger, format Formatter, m *Metrics) *grpc.Server {
	return grpc.NewServer(
		grpc.ChainUnaryInterceptor(unaryLogger(log, format, m)),
		grpc.ChainStreamInterceptor(streamLogger(log)),
	)
}

func unaryLogger(log logr.Logger, format Formatter, m *Metrics) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
		start := time.Now()
		defer func() {
			if p := recover(); p != nil {
				err = status.Errorf(codes.Internal, "panic: %v", p)
				log.Error(nil, "panic in handler", "method", info.FullMethod, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			}
			d := time.Since(start)
			m.observe(info.FullMethod, err, d)
			logCall(log, info.FullMethod, format(req), err, d)
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
			logCall(log, info.FullMethod, "", err, time.Since(start))
		}()
		return h(srv, ss)
	}
}

func logCall(log logr.Logger, method, req string, err error, d time.Duration) {
	kv := []any{"method", method, "code", status.Code(err).String(), "durationMs", float64(d.Microseconds()) / 1000}
	if req != "" {
		kv = append(kv, "request", req)
	}
	if err != nil {
		log.Info("call failed", append(kv, "error", err.Error())...)
		return
	}
	log.V(1).Info("call", kv...)
}

// Serve serves s on l until ctx ends, then stops gracefully: calls in flight
// finish within grace, after which it stops hard.
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

// ServeUnix listens on a 0600 unix socket at path and serves s on it until
// ctx ends; the socket is removed at the end.
func ServeUnix(ctx context.Context, s *grpc.Server, path string, grace time.Duration) error {
	l, err := ListenUnix(path)
	if err != nil {
		return err
	}
	return Serve(ctx, s, l, grace)
}
