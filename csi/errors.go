package csi

import (
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/toposuite/toposuite/internal/grpcserver"
)

// toStatus turns any error into a CSI gRPC status. Errors that already
// carry a code (from the storage daemon, or made with status.Error here)
// keep it: the daemon's codes mean the same in CSI (NotFound,
// ResourceExhausted, ...); API server errors get theirs; domain kinds and
// context errors the shared mapping's. Nothing leaves a handler as Unknown.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if s, ok := status.FromError(err); ok && s.Code() != codes.Unknown {
		return err
	}
	code := grpcserver.CodeOf(err)
	switch {
	case apierrors.IsNotFound(err):
		code = codes.NotFound
	case apierrors.IsAlreadyExists(err):
		code = codes.AlreadyExists
	case apierrors.IsServiceUnavailable(err), apierrors.IsTimeout(err), apierrors.IsServerTimeout(err):
		code = codes.Unavailable
	case apierrors.IsConflict(err):
		code = codes.Aborted
	}
	return status.Error(code, err.Error())
}

// invalid is an InvalidArgument error.
func invalid(format string, args ...any) error {
	return status.Errorf(codes.InvalidArgument, format, args...)
}
