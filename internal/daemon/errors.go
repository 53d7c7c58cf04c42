package daemon

import (
	"errors"

	"google.golang.org/grpc/status"

	api "github.com/toposuite/toposuite/internal/daemonapi"
	"github.com/toposuite/toposuite/internal/grpcserver"
	"github.com/toposuite/toposuite/internal/storage"
)

// statusFor turns a domain error into the daemon API's gRPC status.
func statusFor(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	if errors.Is(err, storage.ErrOwnedByAnother) {
		return api.OwnedByAnother(err.Error())
	}
	return status.Error(grpcserver.CodeOf(err), err.Error())
}
