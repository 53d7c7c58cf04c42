package lvmd

import (
	"cmp"
	"context"
	"slices"

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
	// pvFree holds the free extents of each allocatable PV at the last
	// report, largest first. RAID images and stripes go on PVs of their
	// own, so the VG's free total over-promises them (see legRoom).
	pvFree []int64
	// taken is what lvmd's own creates and grows took from the VG since
	// that report (see lvState.taken).
	taken int64
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
	// taken is the part of a thick footprint made since the last report,
	// counted in its VG's taken: LVM chose its PVs and lvmd does not know
	// them (it keeps no extent map, for the cost of reading one per
	// change), so the room per PV assumes the worst placement. Removing
	// such a volume gives back exactly the extents it took, so it is
	// subtracted from taken again. Removing a volume of the report frees
	// extents on PVs lvmd cannot name: the room per PV ignores them until
	// the next report (one poll later, when lvmd is quiet), the safe way.
	taken int64
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
	for _, pv := range rep.PVs {
		if vg := st.vgs[pv.VG]; vg != nil && pv.Allocatable && vg.extent > 0 {
			vg.pvFree = append(vg.pvFree, pv.Free/vg.extent)
		}
	}
	for _, vg := range st.vgs {
		slices.SortFunc(vg.pvFree, func(a, b int64) int { return cmp.Compare(b, a) })
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
			// A thick volume takes its layout's footprint (RAID images
			// and metadata, parity); a thick snapshot its copy-on-write
			// space, which is its size.
			footprint := lv.Size
			if vg := st.vgs[lv.VG]; vg != nil && lv.Origin == "" {
				footprint = b.layoutOf(b.classOf(lv), lv).Footprint(lv.Size, vg.extent)
			}
			st.lvs[key] = lvState{footprint: footprint, poolKey: lv.VG, origin: lv.Origin}
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
			avail := b.availableLocked(c)
			cc.AvailableBytes = max(0, avail)
			if l := classLayout(c); l.Legs() > 1 {
				// A striped class: the largest volume, not the free bytes.
				cc.AvailableBytes = b.largestLocked(c.VolumeGroup, l, avail)
			}
			if len(b.options) > 0 {
				cc.OptionsClassAvailable = make(map[string]int64, len(b.options))
				for name, oc := range b.options {
					cc.OptionsClassAvailable[name] = b.largestLocked(c.VolumeGroup, optionsLayout(c, oc), avail)
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

// classLayout is the layout of a class's volumes made without an options
// class (planCreate's).
func classLayout(c *class) config.Layout {
	return config.Layout{Type: "linear", Stripes: c.Stripes}
}

// optionsLayout is the layout of a class's volumes made with options class
// oc. A linear or striped options class that sets no stripes gets the
// class's, as lvcreate is given the class's -i too.
func optionsLayout(c *class, oc optionClass) config.Layout {
	l := oc.layout
	if (l.Type == "linear" || l.Type == "striped") && l.Stripes == 0 {
		l.Stripes = c.Stripes
	}
	return l
}

// largestLocked is the largest volume of layout l that surely fits in VG
// vg with avail bytes left for the class: its footprint fits in avail, and
// each of its legs fits on a PV of its own (legRoom).
func (b *Backend) largestLocked(vg string, l config.Layout, avail int64) int64 {
	v := b.st.vgs[vg]
	room := int64(0)
	if legs := l.Legs(); legs > 1 {
		// Reservations in flight may land on any PVs too.
		used := v.taken + max(0, b.st.reserved[vg])
		room = legRoom(v.pvFree, legs, (used+v.extent-1)/v.extent)
	}
	return largestFitting(l, avail, room, v.extent)
}

// legRoom returns the extents that each of legs areas, all on different
// PVs, can surely have, given the free extents of each PV at the last
// report (largest first) and the extents used since by lvmd on PVs it does
// not know. That is the legs-th largest PV's free space once the worst
// placement of used is taken away: the legs-1 largest PVs may keep theirs,
// and the worst case takes used from the others, lowering the largest of
// them to one level, as low as used allows.
func legRoom(pvFree []int64, legs int, used int64) int64 {
	if legs < 1 || len(pvFree) < legs {
		return 0
	}
	rest := pvFree[legs-1:]
	var sum int64
	for j := 1; j <= len(rest); j++ {
		sum += rest[j-1]
		// Lowering the j largest of rest to level takes sum - j*level.
		level := int64(0)
		if over := sum - used; over > 0 {
			level = (over + int64(j) - 1) / int64(j)
		}
		if j == len(rest) || level >= rest[j] {
			return level
		}
	}
	return 0
}

// largestFitting returns the largest volume of layout l whose footprint fits
// in avail bytes and, for a layout of several legs, each of whose legs fits
// in legRoom extents, in whole extents (times the stripes).
func largestFitting(l config.Layout, avail, legRoom, extent int64) int64 {
	if avail <= 0 || extent <= 0 {
		return 0
	}
	step := extent * int64(max(l.Stripes, 1))
	s := int64(float64(avail)/l.Factor()) / step * step
	legs := l.Legs() > 1
	if legs {
		s = min(s, legRoom*extent*int64(l.DataLegs())/step*step)
	}
	for s > 0 && (l.Footprint(s, extent) > avail || legs && l.LegExtents(s, extent) > legRoom) {
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

// settle ends a reservation and, when the change happened, records it:
// added is the volume as it is now (a grown volume with its new
// footprint).
func (b *Backend) settle(c *class, reserved int64, key string, added *lvState) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.st.reserved[c.poolKey()] -= reserved
	if added != nil {
		s := *added
		// What the change took, on PVs LVM chose: all of a new volume,
		// the growth of a grown one.
		old, ok := b.st.lvs[key]
		s.taken = s.footprint
		if ok {
			s.taken = old.taken + max(0, s.footprint-old.footprint)
		}
		b.addLocked(key, s)
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
		vg.taken += s.taken
	}
}

func (b *Backend) dropLocked(key string, s lvState) {
	delete(b.st.lvs, key)
	if p := b.st.pools[s.poolKey]; p != nil {
		p.virtual -= s.footprint
	} else if vg := b.st.vgs[s.poolKey]; vg != nil {
		vg.free += s.footprint
		vg.taken -= s.taken
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
