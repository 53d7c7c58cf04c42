package daemon

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/toposuite/toposuite/internal/storage"
)

// statusFor turns a domain error into a gRPC status. It is the only place in
// the daemons where that happens.
func statusFor(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	code := codes.Internal
	switch {
	case errors.Is(err, storage.ErrInvalid):
		code = codes.InvalidArgument
	case errors.Is(err, storage.ErrNotFound):
		code = codes.NotFound
	case errors.Is(err, storage.ErrExists):
		code = codes.AlreadyExists
	case errors.Is(err, storage.ErrNoSpace):
		code = codes.ResourceExhausted
	case errors.Is(err, storage.ErrPrecondition):
		code = codes.FailedPrecondition
	case errors.Is(err, storage.ErrUnavailable):
		code = codes.Unavailable
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	}
	return status.Error(code, err.Error())
}
