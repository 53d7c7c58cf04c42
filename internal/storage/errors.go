package storage

import (
	"errors"
	"fmt"
)

// Kinds of failure. Domain code wraps one of these (with Errorf) so that the
// gRPC layer can tell the caller what to do; anything else is Internal.
var (
	// ErrInvalid: the request is wrong whatever the state (name, size, class syntax).
	ErrInvalid = errors.New("invalid argument")
	// ErrNotFound: the volume, source or class does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists: a volume of that name exists with other properties.
	ErrExists = errors.New("already exists")
	// ErrNoSpace: not enough free capacity.
	ErrNoSpace = errors.New("not enough space")
	// ErrPrecondition: the request conflicts with the current state.
	ErrPrecondition = errors.New("failed precondition")
	// ErrUnavailable: the backend cannot serve now; retrying later may work.
	ErrUnavailable = errors.New("unavailable")
)

// Errorf returns an error of the given kind with a message; errors.Is(err,
// kind) holds, and %w verbs in format keep their wrapped errors too.
func Errorf(kind error, format string, args ...any) error {
	return &kindError{kind: kind, err: fmt.Errorf(format, args...)}
}

type kindError struct {
	kind error
	err  error
}

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }

// MaxVolumeBytes bounds requested sizes: no backend addresses more (LVM
// stops at 8 EiB), and bounding here keeps every size computation far from
// overflow.
const MaxVolumeBytes int64 = 1 << 62

// ValidateSize checks a requested volume size.
func ValidateSize(size int64) error {
	if size <= 0 {
		return Errorf(ErrInvalid, "size %d must be positive", size)
	}
	if size > MaxVolumeBytes {
		return Errorf(ErrInvalid, "size %d is larger than the largest volume the suite creates (%d bytes)", size, MaxVolumeBytes)
	}
	return nil
}
