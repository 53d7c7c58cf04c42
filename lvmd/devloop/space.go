package devloop

import (
	"cmp"
	"slices"
	"strconv"
	"sync"

	"github.com/toposuite/toposuite/lvmd/lvm"
)

// space is the activator's picture of where each LV's extents lie and
// which are free: the last `pvs --segments` report, with this process's
// own creates and removals laid over it. It spares a report per create
// (the extents are chosen here and given to lvcreate) and per removal (the
// device to detach is found here), half the LVM commands of a burst.
//
// It is a hint, never the truth: LVM refuses a create whose extents are
// taken, and the caller then lets LVM choose and reads the report. What
// could make it wrong — another program changing the VGs, a report read
// while changes ran — costs a retry, not a wrong volume.
type space struct {
	mu     sync.Mutex // guards everything below
	loaded bool
	pvs    []*pvSpace // in report order, which is first-fit order
	// gen numbers this process's changes; changes keeps those a report
	// may not show yet, and the pending creates.
	gen     uint64
	changes []change
	// reportGen is the gen when the loaded report started.
	reportGen uint64
	// placed holds the segments of volumes created where place put them,
	// by "vg/lv", until ActivateNew takes them: only those are known
	// without a report (any other create was placed by LVM).
	placed map[string]lvm.PVSegment
}

type pvSpace struct {
	pv, vg              string
	allocatable         bool
	peStart, extentSize int64
	extents             int64
	used                []span // sorted by start, not overlapping
}

type span struct {
	start, count int64
	lv           string
	tags         []string
}

type change struct {
	gen     uint64
	pv      string
	span    span
	removed bool
	// pending: a create not answered yet; it holds its extents over any
	// report until done.
	pending bool
}

// placement is where a create was placed.
type placement struct {
	gen uint64
	seg lvm.PVSegment
}

// generation returns the gen to record with a report about to start.
func (s *space) generation() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen
}

// load replaces the picture with a report that started at gen since, and
// lays over it the changes it may have missed. A report older than the
// loaded one is ignored.
func (s *space) load(segs []lvm.PVSegment, since uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.loaded && since < s.reportGen {
		return
	}
	byPV := map[string]*pvSpace{}
	var pvs []*pvSpace
	for _, g := range segs {
		p := byPV[g.PV]
		if p == nil {
			p = &pvSpace{pv: g.PV, vg: g.VG, allocatable: g.Allocatable, peStart: g.PEStart, extentSize: g.ExtentSize}
			byPV[g.PV] = p
			pvs = append(pvs, p)
		}
		p.extents = max(p.extents, g.Start+g.Extents)
		if g.LV != "" {
			p.used = append(p.used, span{start: g.Start, count: g.Extents, lv: g.LV, tags: g.Tags})
		}
	}
	for _, p := range pvs {
		slices.SortFunc(p.used, func(a, b span) int { return cmp.Compare(a.start, b.start) })
	}
	s.pvs, s.loaded, s.reportGen = pvs, true, since
	kept := s.changes[:0]
	for _, c := range s.changes {
		if c.gen <= since && !c.pending {
			continue // the report shows it
		}
		kept = append(kept, c)
		if p := byPV[c.pv]; p != nil && !p.apply(c) && !c.pending {
			// A volume we made is on extents the report gives another:
			// the picture cannot be trusted until the next report. (A
			// pending create's extents taken so will be refused by LVM.)
			s.loaded = false
		}
	}
	s.changes = kept
}

// apply lays one change over the picture; it is idempotent. It returns
// false when a volume's extents are another's in the picture (it then
// leaves the picture as it was).
func (p *pvSpace) apply(c change) bool {
	if c.removed {
		p.used = slices.DeleteFunc(p.used, func(u span) bool { return u.lv == c.span.lv && u.start == c.span.start })
		return true
	}
	for _, u := range p.used {
		if u.start < c.span.start+c.span.count && c.span.start < u.start+u.count {
			return u.lv == c.span.lv && u.start == c.span.start // shown already, or another's
		}
	}
	i, _ := slices.BinarySearchFunc(p.used, c.span.start, func(u span, start int64) int { return cmp.Compare(u.start, start) })
	p.used = slices.Insert(p.used, i, c.span)
	return true
}

// place chooses the first free run of extents in vg that holds size bytes
// and holds it for lv until done; ok is false when the picture is not
// loaded or has no such run.
func (s *space) place(vg, lv string, size int64, tags []string) (placement, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.loaded {
		return placement{}, false
	}
	for _, p := range s.pvs {
		if p.vg != vg || !p.allocatable || p.extentSize <= 0 || size%p.extentSize != 0 {
			continue
		}
		n := size / p.extentSize
		at := int64(0) // the first extent after those looked at
		for i := 0; i <= len(p.used); i++ {
			end := p.extents
			if i < len(p.used) {
				end = p.used[i].start
			}
			if end-at >= n {
				s.gen++
				c := change{gen: s.gen, pv: p.pv, span: span{start: at, count: n, lv: lv, tags: tags}, pending: true}
				s.changes = append(s.changes, c)
				p.apply(c)
				return placement{gen: c.gen, seg: p.segment(c.span)}, true
			}
			if i < len(p.used) {
				at = max(at, p.used[i].start+p.used[i].count)
			}
		}
	}
	return placement{}, false
}

// done ends a placement: a created volume keeps its extents (as a change
// the next report will show), a failed create gives them back and drops
// the picture, which LVM has just contradicted or which no longer matters.
func (s *space) done(pl placement, created bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.changes {
		if s.changes[i].gen != pl.gen {
			continue
		}
		if created {
			s.gen++
			s.changes[i].gen, s.changes[i].pending = s.gen, false
			if s.placed == nil {
				s.placed = map[string]lvm.PVSegment{}
			}
			s.placed[pl.seg.VG+"/"+pl.seg.LV] = pl.seg
			return
		}
		// Dropping the picture drops the extents it held for the create;
		// without its change, the next report does not hold them again.
		s.changes = slices.Delete(s.changes, i, i+1)
		s.loaded = false
		return
	}
}

// find returns the segment of vg/lv when the picture has exactly one.
func (s *space) find(vg, lv string) (lvm.PVSegment, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.loaded {
		return lvm.PVSegment{}, false
	}
	var found []lvm.PVSegment
	for _, p := range s.pvs {
		if p.vg != vg {
			continue
		}
		for _, u := range p.used {
			if u.lv == lv {
				found = append(found, p.segment(u))
			}
		}
	}
	if len(found) != 1 {
		return lvm.PVSegment{}, false
	}
	return found[0], true
}

// takePlaced returns, once, the segment of a volume created where place
// put it.
func (s *space) takePlaced(vg, lv string) (lvm.PVSegment, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seg, ok := s.placed[vg+"/"+lv]
	delete(s.placed, vg+"/"+lv)
	return seg, ok
}

// remove records that the LV of seg is gone: called after its lvremove
// succeeded, so that a report starting later shows it gone too.
func (s *space) remove(seg lvm.PVSegment) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.placed, seg.VG+"/"+seg.LV)
	s.gen++
	c := change{gen: s.gen, pv: seg.PV, span: span{start: seg.Start, count: seg.Extents, lv: seg.LV}, removed: true}
	s.changes = append(s.changes, c)
	for _, p := range s.pvs {
		if p.pv == seg.PV {
			p.apply(c)
		}
	}
}

func (p *pvSpace) segment(u span) lvm.PVSegment {
	return lvm.PVSegment{
		PV: p.pv, VG: p.vg, LV: u.lv, Tags: u.tags, Start: u.start, Extents: u.count,
		PEStart: p.peStart, ExtentSize: p.extentSize,
		Offset: p.peStart + u.start*p.extentSize, Size: u.count * p.extentSize,
	}
}

// pvArg names seg's extents for lvcreate: "pv:first-last".
func pvArg(seg lvm.PVSegment) string {
	return seg.PV + ":" + strconv.FormatInt(seg.Start, 10) + "-" + strconv.FormatInt(seg.Start+seg.Extents-1, 10)
}
