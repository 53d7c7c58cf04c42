package daemon

import (
	"google.golang.org/grpc/status"

	"github.com/toposuite/toposuite/internal/grpcserver"
)

// statusFor turns a domain error into the daemon API's gRPC status.
func statusFor(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Error(grpcserver.CodeOf(err), err.Error())
}
