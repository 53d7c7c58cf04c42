package csi

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/toposuite/toposuite/internal/storage"
)

// toStatus turns any error into a CSI gRPC status. Errors that already
// carry a code (from the storage daemon, or made with status.Error in this
// package) keep it: the daemon's codes mean the same in CSI (NotFound,
// ResourceExhausted, ...). Nothing leaves a handler as Unknown.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if s, ok := status.FromError(err); ok && s.Code() != codes.Unknown {
		return err
	}
	code := codes.Internal
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	case errors.Is(err, storage.ErrInvalid):
		code = codes.InvalidArgument
	case errors.Is(err, storage.ErrNotFound), apierrors.IsNotFound(err):
		code = codes.NotFound
	case errors.Is(err, storage.ErrExists), apierrors.IsAlreadyExists(err):
		code = codes.AlreadyExists
	case errors.Is(err, storage.ErrNoSpace):
		code = codes.ResourceExhausted
	case errors.Is(err, storage.ErrPrecondition):
		code = codes.FailedPrecondition
	case errors.Is(err, storage.ErrUnavailable), apierrors.IsServiceUnavailable(err), apierrors.IsTimeout(err), apierrors.IsServerTimeout(err):
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
