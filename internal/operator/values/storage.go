package values

import (
	"github.com/toposuite/toposuite/internal/api/operator/v1alpha1"
)

// lvmGroupValues: the group's lvmd configuration (device classes and the
// volume groups prepare builds, with a node's selected devices for those
// with a selector) and prepare on, or nil without device classes.
func lvmGroupValues(g *v1alpha1.NodeGroup, images map[string]map[string]any, selected map[string][]string) (map[string]any, error) {
	if len(g.DeviceClasses) == 0 {
		return nil, nil
	}
	var classes, optionClasses, vgs []any
	for _, c := range g.DeviceClasses {
		dc := map[string]any{"name": c.Name, "volumeGroup": c.VolumeGroup}
		if c.Default {
			dc["default"] = true
		}
		if c.Spare != nil {
			dc["spare"] = c.Spare.String()
		}
		if c.Stripes != nil {
			dc["stripes"] = *c.Stripes
		}
		if c.StripeSize != nil {
			dc["stripeSize"] = c.StripeSize.String()
		}
		if c.ThinPool != nil {
			dc["type"] = "thin"
			dc["thinPool"] = map[string]any{"name": c.ThinPool.Name, "overprovisionRatio": c.ThinPool.OverprovisionRatio}
		}
		classes = append(classes, dc)
		for _, o := range c.LVCreateOptionClasses {
			optionClasses = append(optionClasses, map[string]any{"name": o.Name, "options": stringsToAny(o.Options)})
		}
	}
	for _, vg := range g.VolumeGroups {
		if vg.Adopt {
			continue // used as it is: prepare never sees it
		}
		devices := vg.Devices
		if vg.DeviceSelector != nil {
			devices = selected[vg.Name]
		}
		v := map[string]any{"name": vg.Name, "devices": stringsToAny(devices)}
		if vg.WipePolicy == v1alpha1.WipeSignatures && len(vg.Devices) > 0 {
			// The listed devices only: selected ones were free when
			// discovered, and one that holds something by the time prepare
			// looks must be refused, not wiped.
			v["wipe"] = stringsToAny(vg.Devices)
		}
		if vg.MinDeviceSize != nil {
			v["minDeviceSize"] = vg.MinDeviceSize.String()
		}
		vgs = append(vgs, v)
	}
	config := map[string]any{"deviceClasses": classes}
	if len(optionClasses) > 0 {
		config["lvcreateOptionClasses"] = optionClasses
	}
	if len(vgs) > 0 {
		config["volumeGroups"] = vgs
	}
	v := map[string]any{"lvmd": map[string]any{
		"mode":    "embedded",
		"prepare": map[string]any{"enabled": len(vgs) > 0},
		"config":  config,
	}}
	setImage(v, images, "lvmd", "lvmd", "image")
	return v, nil
}

// btrfsGroupValues: the group's btrfsd pools (with a filesystem block for
// prepare unless adopted) and prepare on, or nil without pools.
func btrfsGroupValues(g *v1alpha1.NodeGroup, images map[string]map[string]any, _ map[string][]string) (map[string]any, error) {
	if len(g.Pools) == 0 {
		return nil, nil
	}
	var pools []any
	prepare := false
	for _, p := range g.Pools {
		pv := map[string]any{"name": p.Name, "path": PoolPath(p), "enableQuota": true}
		if p.Default {
			pv["default"] = true
		}
		if p.Budget != nil {
			pv["budget"] = p.Budget.String()
		}
		if p.Spare != nil {
			pv["spare"] = p.Spare.String()
		}
		if !p.Adopt {
			prepare = true
			fs := map[string]any{"devices": stringsToAny(p.Devices)}
			if p.WipePolicy == v1alpha1.WipeSignatures {
				fs["wipe"] = stringsToAny(p.Devices)
			}
			if p.DataProfile != "" {
				fs["dataProfile"] = p.DataProfile
			}
			if p.MetadataProfile != "" {
				fs["metadataProfile"] = p.MetadataProfile
			}
			pv["filesystem"] = fs
		}
		pools = append(pools, pv)
	}
	v := map[string]any{"btrfsd": map[string]any{
		"prepare": map[string]any{"enabled": prepare},
		"config":  map[string]any{"pools": pools},
	}}
	setImage(v, images, "btrfsd", "btrfsd", "image")
	return v, nil
}

// PoolPath is where a pool's filesystem is mounted on its nodes.
func PoolPath(p v1alpha1.Pool) string {
	if p.Path != "" {
		return p.Path
	}
	return "/var/lib/topols/" + p.Name
}

func stringsToAny(s []string) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}
