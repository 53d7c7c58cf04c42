package grpcserver

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/toposuite/toposuite/internal/storage"
)

// CodeOf returns the gRPC code of an error: the code it already carries
// (other than Unknown), the code of its domain kind (package storage), or
// the context's; Internal otherwise. Servers add what only they know.
func CodeOf(err error) codes.Code {
	if s, ok := status.FromError(err); ok && s.Code() != codes.Unknown {
		return s.Code()
	}
	switch {
	case errors.Is(err, storage.ErrInvalid):
		return codes.InvalidArgument
	case errors.Is(err, storage.ErrNotFound):
		return codes.NotFound
	case errors.Is(err, storage.ErrExists):
		return codes.AlreadyExists
	case errors.Is(err, storage.ErrNoSpace):
		return codes.ResourceExhausted
	case errors.Is(err, storage.ErrPrecondition), errors.Is(err, storage.ErrOwnedByAnother):
		return codes.FailedPrecondition
	case errors.Is(err, storage.ErrUnavailable):
		return codes.Unavailable
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		return codes.Canceled
	}
	return codes.Internal
}
