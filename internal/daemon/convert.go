package daemon

import (
	api "github.com/toposuite/toposuite/internal/daemonapi"
	"github.com/toposuite/toposuite/internal/storage"
)

func toAPIVolume(v storage.Volume) *api.Volume {
	out := &api.Volume{
		Name:          v.Name,
		DeviceClass:   v.Class,
		SizeBytes:     v.SizeBytes,
		Path:          v.Path,
		HealthMessage: v.HealthMessage,
		Source:        v.Source,
		Snapshot:      v.Snapshot,
		ReadOnly:      v.ReadOnly,
		UsedBytes:     v.UsedBytes,
		Tags:          v.Tags,
	}
	switch v.Health {
	case storage.HealthHealthy:
		out.Health = api.VolumeHealth_VOLUME_HEALTH_HEALTHY
	case storage.HealthAbnormal:
		out.Health = api.VolumeHealth_VOLUME_HEALTH_ABNORMAL
	}
	return out
}

// ToAPICapacity converts domain capacity to the wire form.
func ToAPICapacity(c storage.Capacity) *api.CapacityResponse {
	out := &api.CapacityResponse{Classes: make([]*api.ClassCapacity, 0, len(c))}
	for _, cc := range c {
		ac := &api.ClassCapacity{
			Name:                       cc.Name,
			Default:                    cc.Default,
			SizeBytes:                  cc.SizeBytes,
			AvailableBytes:             cc.AvailableBytes,
			OptionsClassAvailableBytes: cc.OptionsClassAvailable,
		}
		if tp := cc.ThinPool; tp != nil {
			ac.ThinPool = &api.ThinPool{
				Name:               tp.Name,
				SizeBytes:          tp.SizeBytes,
				DataPercent:        tp.DataPercent,
				MetadataPercent:    tp.MetadataPercent,
				OverprovisionRatio: tp.OverprovisionRatio,
				VirtualBytes:       tp.VirtualBytes,
			}
		}
		out.Classes = append(out.Classes, ac)
	}
	return out
}
