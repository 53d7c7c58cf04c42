package lvmd

import (
	"context"

	"github.com/toposuite/toposuite/internal/storage"
	"github.com/toposuite/toposuite/lvmd/config"
)

// state is the capacity bookkeeping, rebuilt from LVM by Refresh and moved
// forward by each change lvmd makes, so that capacity after a change needs no
// LVM command.
type state struct {
	vgs   map[string]*vgState
	pools map[string]*poolState
	// lvs holds the owned LVs by vg/name with what they take.
	lvs map[string]lvState
	// reserved holds space promised to creates in flight, by pool key.
	reserved map[string]int64
}

type vgState struct {
	size, free, extent int64
}

type poolState struct {
	size, virtual        int64
	dataPct, metadataPct float64
}

type lvState struct {
	// footprint is what the LV takes from its VG (thick) or, for thin LVs,
	// its virtual size in the pool.
	footprint int64
	poolKey   string
	// origin is the LV a thick snapshot belongs to.
	origin string
}

// Refresh implements daemon.Backend: one fullreport of the class VGs
// rebuilds the bookkeeping. The report runs without holding back the
// changes lvmd makes meanwhile; a report that may have missed one (a change
// was in flight when it started, or started or ended while it ran) is
// dropped, as lvmd's own changes are in the bookkeeping already, and the
// next poll reads again. Under a steady stream of changes, changes made
// outside lvmd are seen once the stream pauses. A poll that starts while a
// change is in flight does not run the report at all, as it would be
// dropped: in a burst the report would only compete with the changes for
// LVM's VG lock and the CPU.
func (b *Backend) Refresh(ctx context.Context) (storage.Capacity, error) {
	b.mu.Lock()
	if b.busy > 0 {
		defer b.mu.Unlock()
		return b.capacityLocked(), nil
	}
	gen := b.gen
	b.mu.Unlock()
	rep, err := b.lvm.FullReport(ctx, b.vgNames...)
	if err != nil {
		return nil, err
	}
	st := state{vgs: map[string]*vgState{}, pools: map[string]*poolState{}, lvs: map[string]lvState{}}
	for _, vg := range rep.VGs {
		st.vgs[vg.Name] = &vgState{size: vg.Size, free: vg.Free, extent: vg.ExtentSize}
	}
	for _, lv := range rep.LVs {
		key := lv.VG + "/" + lv.Name
		if lv.Attr.ThinPool() {
			p := st.pools[key]
			if p == nil {
				p = &poolState{}
				st.pools[key] = p
			}
			p.size, p.dataPct, p.metadataPct = lv.Size, lv.DataPercent, lv.MetadataPercent
			continue
		}
		if lv.Pool != "" {
			pk := lv.VG + "/" + lv.Pool
			p := st.pools[pk]
			if p == nil {
				p = &poolState{}
				st.pools[pk] = p
			}
			// Every thin LV counts against the overprovision limit, owned or not.
			p.virtual += lv.Size
			if lv.HasTag(config.OwnerTag) {
				st.lvs[key] = lvState{footprint: lv.Size, poolKey: pk}
			}
			continue
		}
		if lv.HasTag(config.OwnerTag) {
			st.lvs[key] = lvState{footprint: lv.Size, poolKey: lv.VG, origin: lv.Origin}
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.gen != gen {
		return b.capacityLocked(), nil
	}
	st.reserved = b.st.reserved
	if st.reserved == nil {
		st.reserved = map[string]int64{}
	}
	b.st = st
	return b.capacityLocked(), nil
}

// changing marks a change in flight until the function it returns is
// called (see Refresh).
func (b *Backend) changing() func() {
	b.mu.Lock()
	b.busy++
	b.gen++
	b.mu.Unlock()
	return func() {
		b.mu.Lock()
		b.busy--
		b.gen++
		b.mu.Unlock()
	}
}

// Capacity implements daemon.Backend from the bookkeeping alone.
func (b *Backend) Capacity() storage.Capacity {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.capacityLocked()
}

func (b *Backend) capacityLocked() storage.Capacity {
	out := make(storage.Capacity, 0, len(b.classes))
	for _, c := range b.classes {
		cc := storage.ClassCapacity{Name: c.Name, Default: c == b.deflt}
		if c.thin() {
			if p := b.st.pools[c.poolKey()]; p != nil {
				cc.SizeBytes = p.size
				cc.AvailableBytes = max(0, b.availableLocked(c))
				cc.ThinPool = &storage.ThinPool{
					Name: c.ThinPool.Name, SizeBytes: p.size, DataPercent: max(p.dataPct, 0),
					MetadataPercent: max(p.metadataPct, 0), OverprovisionRatio: c.ThinPool.OverprovisionRatio,
					VirtualBytes: p.virtual,
				}
			}
		} else if vg := b.st.vgs[c.VolumeGroup]; vg != nil {
			cc.SizeBytes = vg.size
			cc.AvailableBytes = max(0, b.availableLocked(c))
			if len(b.options) > 0 {
				cc.OptionsClassAvailable = make(map[string]int64, len(b.options))
				for name, oc := range b.options {
					cc.OptionsClassAvailable[name] = largestFitting(oc.layout, cc.AvailableBytes, vg.extent)
				}
			}
		}
		out = append(out, cc)
	}
	return out
}

// availableLocked is the room left in the class for new volumes (thick:
// bytes of extents, thin: virtual bytes); it may be negative.
func (b *Backend) availableLocked(c *class) int64 {
	res := b.st.reserved[c.poolKey()]
	if c.thin() {
		p := b.st.pools[c.poolKey()]
		if p == nil {
			return 0
		}
		return int64(float64(p.size)*c.ThinPool.OverprovisionRatio) - p.virtual - res
	}
	vg := b.st.vgs[c.VolumeGroup]
	if vg == nil {
		return 0
	}
	return vg.free - c.spare - res
}

// largestFitting returns the largest volume of layout l whose footprint fits
// in avail bytes, in whole extents.
func largestFitting(l config.Layout, avail, extent int64) int64 {
	if avail <= 0 || extent <= 0 {
		return 0
	}
	step := extent * int64(max(l.Stripes, 1))
	s := int64(float64(avail)/l.Factor()) / step * step
	for s > 0 && l.Footprint(s, extent) > avail {
		s -= step
	}
	return max(s, 0)
}

// reserve promises need bytes of the class's pool to a create in flight.
func (b *Backend) reserve(c *class, need int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if need > b.availableLocked(c) {
		return false
	}
	if b.st.reserved == nil {
		b.st.reserved = map[string]int64{}
	}
	b.st.reserved[c.poolKey()] += need
	return true
}

// settle ends a reservation and, when the change happened, records it.
func (b *Backend) settle(c *class, reserved int64, key string, added *lvState) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.st.reserved[c.poolKey()] -= reserved
	if added != nil {
		b.addLocked(key, *added)
	}
}

func (b *Backend) addLocked(key string, s lvState) {
	if old, ok := b.st.lvs[key]; ok {
		b.dropLocked(key, old)
	}
	b.st.lvs[key] = s
	if p := b.st.pools[s.poolKey]; p != nil {
		p.virtual += s.footprint
	} else if vg := b.st.vgs[s.poolKey]; vg != nil {
		vg.free -= s.footprint
	}
}

func (b *Backend) dropLocked(key string, s lvState) {
	delete(b.st.lvs, key)
	if p := b.st.pools[s.poolKey]; p != nil {
		p.virtual -= s.footprint
	} else if vg := b.st.vgs[s.poolKey]; vg != nil {
		vg.free += s.footprint
	}
}

// forget records that an LV was removed.
func (b *Backend) forget(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s, ok := b.st.lvs[key]; ok {
		b.dropLocked(key, s)
	}
}

// hasSnapshots reports whether thick snapshots of vg/name exist.
func (b *Backend) hasSnapshots(vg, name string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for key, s := range b.st.lvs {
		if s.origin == name && s.poolKey == vg && key != vg+"/"+name {
			return true
		}
	}
	return false
}

func (b *Backend) extent(vg string) (int64, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v, ok := b.st.vgs[vg]
	if !ok {
		return 0, false
	}
	return v.extent, true
}
