package cluster

import (
	"context"
	"path/filepath"
)

// Each node has a second, smaller device class on each driver, on disks
// of its own: the LVM volume group smallVG and the btrfs pool at
// smallPoolPath, both offered as device class "small" with the
// StorageClasses topolvm-small and topols-small. End-to-end tests use them
// for multiple device classes and, since nothing else does, for exact
// capacity figures (a full node, CSIStorageCapacity going down and up).
const (
	smallClass    = "small"
	smallVG       = "toposuite-small"
	smallPoolPath = "/var/lib/topols/small"
	// smallDiskSize is the size of each of the two loop files (sparse).
	smallDiskSize = 4 << 30
	// smallPoolBudget caps what TopoLS hands out of the small pool.
	smallPoolBudget = "3Gi"
	// smallVGSpare is what lvmd keeps free in the small volume group.
	smallVGSpare = "256Mi"
)

// smallDisks makes the node's two loop devices of the small class: one
// for the volume group (made by the node's init) and one formatted btrfs.
func (c *Cluster) smallDisks(ctx context.Context, dir, name string) (pv, bt string, err error) {
	if pv, err = c.loopSized(ctx, filepath.Join(dir, "disks", "lvm-small.img"), smallDiskSize); err != nil {
		return "", "", err
	}
	if bt, err = c.loopSized(ctx, filepath.Join(dir, "disks", "btrfs-small.img"), smallDiskSize); err != nil {
		return "", "", err
	}
	if _, err := run(ctx, nil, "mkfs.btrfs", "-q", "-f", "-L", "toposuite-small-"+name, bt); err != nil {
		return "", "", err
	}
	return pv, bt, nil
}
