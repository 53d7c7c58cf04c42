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
		OwnerUid:      v.OwnerUID,
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

// FromAPICapacity converts wire capacity back to domain capacity (for a
// client of the API, such as the node plugin's metrics).
func FromAPICapacity(r *api.CapacityResponse) storage.Capacity {
	out := make(storage.Capacity, 0, len(r.GetClasses()))
	for _, ac := range r.GetClasses() {
		cc := storage.ClassCapacity{
			Name: ac.GetName(), Default: ac.GetDefault(), SizeBytes: ac.GetSizeBytes(),
			AvailableBytes: ac.GetAvailableBytes(), OptionsClassAvailable: ac.GetOptionsClassAvailableBytes(),
		}
		if tp := ac.GetThinPool(); tp != nil {
			cc.ThinPool = &storage.ThinPool{
				Name: tp.GetName(), SizeBytes: tp.GetSizeBytes(), DataPercent: tp.GetDataPercent(),
				MetadataPercent: tp.GetMetadataPercent(), OverprovisionRatio: tp.GetOverprovisionRatio(), VirtualBytes: tp.GetVirtualBytes(),
			}
		}
		out = append(out, cc)
	}
	return out
}
