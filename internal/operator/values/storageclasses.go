package values

import (
	"github.com/toposuite/toposuite/internal/api/operator/v1alpha1"
)

// storageClasses makes one StorageClass per device class (LVM) or pool
// (btrfs) name, across node groups, in the order the spec first names
// them. The first declaration that sets a storageClass block decides its
// name, fsType, default flag and reclaim policy.
func storageClasses(spec *v1alpha1.TopolvmClusterSpec, chart string) []any {
	type class struct {
		name string
		sc   *v1alpha1.StorageClass
	}
	var order []string
	seen := map[string]*class{}
	add := func(name string, sc *v1alpha1.StorageClass) {
		c, ok := seen[name]
		if !ok {
			c = &class{name: name}
			seen[name] = c
			order = append(order, name)
		}
		if c.sc == nil && sc != nil {
			c.sc = sc
		}
	}
	for _, g := range spec.NodeGroups {
		if chart == ChartTopoLVM {
			for _, dc := range g.DeviceClasses {
				add(dc.Name, dc.StorageClass)
			}
		} else {
			for _, p := range g.Pools {
				add(p.Name, p.StorageClass)
			}
		}
	}
	fsType := "ext4"
	if chart == ChartTopoLS {
		fsType = "btrfs"
	}
	out := []any{}
	for _, n := range order {
		c := seen[n]
		sc := map[string]any{
			"name":        chart + "-" + n,
			"deviceClass": n,
			"fsType":      fsType,
			// What the charts' default StorageClass says: volumes are
			// made on the node the pod lands on, and may grow.
			"isDefault":            false,
			"reclaimPolicy":        "Delete",
			"volumeBindingMode":    "WaitForFirstConsumer",
			"allowVolumeExpansion": true,
		}
		if s := c.sc; s != nil {
			if s.Name != "" {
				sc["name"] = s.Name
			}
			if s.FSType != "" {
				sc["fsType"] = s.FSType
			}
			if s.IsDefault {
				sc["isDefault"] = true
			}
			if s.ReclaimPolicy != "" {
				sc["reclaimPolicy"] = s.ReclaimPolicy
			}
		}
		out = append(out, sc)
	}
	return out
}
