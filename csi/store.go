package csi

import (
	"context"

	"k8s.io/apimachinery/pkg/api/resource"

	v1 "github.com/toposuite/toposuite/internal/api/topolvm/v1"
)

// VolumeStore is the LogicalVolume API as the CSI controller uses it:
// objects of this controller's driver only. The Kubernetes implementation
// is in internal/controller; waits are event-driven (informer), never
// sleep-polling.
type VolumeStore interface {
	// Get returns the LogicalVolume of that name (a NotFound error when absent).
	Get(ctx context.Context, name string) (*v1.LogicalVolume, error)
	// CreateAndWait creates lv, or finds it when a retried call already
	// did, and waits until its node answered: status.volumeID or status.code set.
	CreateAndWait(ctx context.Context, lv *v1.LogicalVolume) (*v1.LogicalVolume, error)
	// ResizeAndWait raises spec.size and waits until status.currentSize
	// reaches it or status.code says why not.
	ResizeAndWait(ctx context.Context, name string, size resource.Quantity) (*v1.LogicalVolume, error)
	// Delete deletes the LogicalVolume; a missing one is not an error.
	Delete(ctx context.Context, name string) error
	// List returns the driver's LogicalVolumes.
	List(ctx context.Context) ([]v1.LogicalVolume, error)
}

// NodeCapacity is the capacity nodes publish (Node annotations), per class
// and, for volumes made with an lvcreate options class (options; "" for
// none), per options class: a RAID volume takes more than its size.
type NodeCapacity interface {
	// Available returns the bytes available for a new volume of class,
	// made with options, on node.
	Available(ctx context.Context, node, class, options string) (int64, error)
	// Nodes returns the nodes running this driver's node plugin that
	// publish that figure, with it.
	Nodes(ctx context.Context, class, options string) (map[string]int64, error)
}
