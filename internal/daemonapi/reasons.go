package daemonapi

import (
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrorDomain is the domain of the ErrorInfo details the daemons attach.
const ErrorDomain = "daemon.toposuite.io"

// ReasonOwnedByAnother is the ErrorInfo reason of a FailedPrecondition
// answer to a request whose owner_uid is not the volume's.
const ReasonOwnedByAnother = "OWNED_BY_ANOTHER"

// OwnedByAnother returns the daemon's answer to a request whose owner_uid is
// not the volume's: FailedPrecondition with the reason attached, so that
// callers need not parse the message.
func OwnedByAnother(msg string) error {
	st := status.New(codes.FailedPrecondition, msg)
	if d, err := st.WithDetails(&errdetails.ErrorInfo{Reason: ReasonOwnedByAnother, Domain: ErrorDomain}); err == nil {
		st = d
	}
	return st.Err()
}

// IsOwnedByAnother reports whether err is the daemon's OwnedByAnother answer.
func IsOwnedByAnother(err error) bool {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.FailedPrecondition {
		return false
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == ErrorDomain && info.GetReason() == ReasonOwnedByAnother {
			return true
		}
	}
	return false
}
