// Package daemon serves the storage daemon API (internal/daemonapi) over a
// Backend: lvmd and btrfsd each implement Backend and share everything else
// here: request validation common to both, the mapping of domain errors to
// gRPC codes, the capacity Watch stream with its poller, the unix socket
// server and the in-process connection used when a node plugin embeds its
// daemon.
package daemon

import (
	"context"

	"github.com/toposuite/toposuite/internal/storage"
)

// Backend is a storage daemon's domain logic. Errors wrap the kinds in
// package storage; the server maps them to gRPC codes. Every method must be
// safe for concurrent use, and idempotent as the API describes.
type Backend interface {
	CreateVolume(ctx context.Context, req storage.CreateRequest) (storage.Volume, error)
	CreateSnapshot(ctx context.Context, req storage.SnapshotRequest) (storage.Volume, error)
	ResizeVolume(ctx context.Context, class, name string, sizeBytes int64, claim storage.Claim) (storage.Volume, error)
	RemoveVolume(ctx context.Context, class, name string, claim storage.Claim) error
	GetVolume(ctx context.Context, class, name string) (storage.Volume, error)
	ListVolumes(ctx context.Context, class string) ([]storage.Volume, error)
	// Capacity returns the capacity from the backend's own bookkeeping,
	// without running anything: it is called after every change the daemon
	// makes, so it must be cheap.
	Capacity() storage.Capacity
	// Refresh reads the system again, so that changes made outside the
	// daemon are seen, and returns the capacity.
	Refresh(ctx context.Context) (storage.Capacity, error)
}
