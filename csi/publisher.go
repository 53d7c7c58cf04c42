package csi

import (
	"context"

	"github.com/container-storage-interface/spec/lib/go/csi"

	api "github.com/toposuite/toposuite/internal/daemonapi"
)

// Publisher makes a volume appear in a pod and reports on it; one per
// backend: a block device to format and mount or bind (LVM), or a
// directory to bind-mount (btrfs).
type Publisher interface {
	// Publish mounts vol at target as the capability asks. It is idempotent:
	// a target already holding this volume is left as it is.
	Publish(ctx context.Context, vol *api.Volume, target string, c *csi.VolumeCapability, readOnly bool) error
	// Unpublish unmounts target and removes it; a missing target is fine.
	Unpublish(ctx context.Context, target string) error
	// Stats reports usage of vol published at path.
	Stats(ctx context.Context, vol *api.Volume, path string) ([]*csi.VolumeUsage, error)
	// Expand grows what is on vol (its filesystem) to the volume's size.
	Expand(ctx context.Context, vol *api.Volume, path string) error
}
