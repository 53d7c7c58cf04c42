package devloop

import (
	"testing"

	"github.com/toposuite/toposuite/lvmd/lvm"
)

const ext = 4 << 20

// seg is a segment of /dev/loop<pv> in tvg, in extents.
func seg(pv, lv string, start, n int64) lvm.PVSegment {
	return lvm.PVSegment{PV: "/dev/loop" + pv, VG: "tvg", LV: lv, Allocatable: true, Start: start, Extents: n, PEStart: 1 << 20, ExtentSize: ext,
		Offset: 1<<20 + start*ext, Size: n * ext}
}

// report is two PVs: loop1 with lv1 (0-49), data1 (50-52) and 202 free
// extents, loop2 with 127 free.
func report() []lvm.PVSegment {
	return []lvm.PVSegment{seg("1", "lv1", 0, 50), seg("1", "data1", 50, 3), seg("1", "", 53, 202), seg("2", "", 0, 127)}
}

func mustPlace(t *testing.T, s *space, lv string, n int64) placement {
	t.Helper()
	pl, ok := s.place("tvg", lv, n*ext, []string{"owned"})
	if !ok {
		t.Fatalf("no room for %s (%d extents)", lv, n)
	}
	return pl
}

func wantAt(t *testing.T, s *space, lv, pv string, start, n int64) {
	t.Helper()
	got, ok := s.find("tvg", lv)
	if !ok || got.PV != "/dev/loop"+pv || got.Start != start || got.Extents != n || got.Offset != 1<<20+start*ext || got.Size != n*ext {
		t.Errorf("%s found at %+v (%v), want /dev/loop%s extents %d+%d", lv, got, ok, pv, start, n)
	}
}

func TestSpacePlacesTheFirstRunThatHolds(t *testing.T) {
	var s space
	if _, ok := s.place("tvg", "a", ext, nil); ok {
		t.Fatal("placed with no report read")
	}
	s.load(report(), 0)
	a := mustPlace(t, &s, "a", 10)
	if arg := pvArg(a.seg); arg != "/dev/loop1:53-62" {
		t.Errorf("lvcreate argument %q, want /dev/loop1:53-62", arg)
	}
	mustPlace(t, &s, "b", 192) // the rest of loop1
	wantAt(t, &s, "b", "1", 63, 192)
	mustPlace(t, &s, "c", 100) // loop1 is full
	wantAt(t, &s, "c", "2", 0, 100)
	if _, ok := s.place("tvg", "d", 28*ext, nil); ok {
		t.Error("placed 28 extents where 27 are free")
	}
	if _, ok := s.place("other", "d", ext, nil); ok {
		t.Error("placed in a VG the report does not have")
	}
	if _, ok := s.place("tvg", "d", ext+1, nil); ok {
		t.Error("placed a size that is not whole extents")
	}
}

func TestSpaceFailedCreateGivesBackAndForgets(t *testing.T) {
	var s space
	s.load(report(), 0)
	a := mustPlace(t, &s, "a", 10)
	s.done(a, false)
	if _, ok := s.find("tvg", "a"); ok {
		t.Error("a failed create is still found")
	}
	if _, ok := s.place("tvg", "b", ext, nil); ok {
		t.Error("placed after LVM refused a placement: the picture must be read again")
	}
	s.load(report(), s.generation())
	mustPlace(t, &s, "b", 10)
	wantAt(t, &s, "b", "1", 53, 10) // a's extents are free again
}

// A report read while a create ran may not show it; one that started after
// the create ended is the truth.
func TestSpaceKeepsChangesAReportMayMiss(t *testing.T) {
	var s space
	s.load(report(), 0)
	pending := mustPlace(t, &s, "pending", 5)
	done := mustPlace(t, &s, "done", 5)
	since := s.generation()
	s.done(done, true)
	s.load(report(), since) // started before "done" ended
	wantAt(t, &s, "pending", "1", 53, 5)
	wantAt(t, &s, "done", "1", 58, 5)

	s.load(report(), s.generation()) // after: "done" is gone behind our back
	if _, ok := s.find("tvg", "done"); ok {
		t.Error("a volume a later report lacks is still found")
	}
	wantAt(t, &s, "pending", "1", 53, 5) // pending creates hold until done
	s.done(pending, true)

	s.load(append(report(), seg("2", "ghost", 0, 1)), 0) // older than the one loaded: ignored
	if _, ok := s.find("tvg", "ghost"); ok {
		t.Error("a report older than the loaded one was loaded")
	}
}

// A removal counts from when lvremove returned: a report read while it ran
// still shows the volume; one that started before it returned cannot bring
// it back afterwards, nor hide a create placed on its extents since.
func TestSpaceRemovalCountsFromItsEnd(t *testing.T) {
	var s space
	s.load(report(), 0)
	lv1, _ := s.find("tvg", "lv1")
	during := s.generation() // a report starting while lvremove runs
	s.remove(lv1)            // lvremove returned
	if _, ok := s.find("tvg", "lv1"); ok {
		t.Error("a removed volume is still found")
	}
	w := mustPlace(t, &s, "w", 50)
	wantAt(t, &s, "w", "1", 0, 50)
	s.load(report(), during) // shows lv1, not w
	if _, ok := s.find("tvg", "lv1"); ok {
		t.Error("a report read during the removal brought the volume back")
	}
	wantAt(t, &s, "w", "1", 0, 50)
	s.done(w, true)
	if seg, ok := s.takePlaced("tvg", "w"); !ok || seg.Start != 0 || seg.Extents != 50 {
		t.Errorf("placed w = %+v, %v", seg, ok)
	}
	if _, ok := s.takePlaced("tvg", "w"); ok {
		t.Error("a placement was taken twice")
	}
}

// A volume we made, on extents a later report gives another volume: the
// picture is dropped until a report is read again.
func TestSpaceDropsAContradictedPicture(t *testing.T) {
	var s space
	s.load(report(), 0)
	since := s.generation()
	a := mustPlace(t, &s, "a", 10)
	s.done(a, true)
	s.load(append(report()[:2], seg("1", "other", 53, 10), seg("1", "", 63, 192), seg("2", "", 0, 127)), since)
	if _, ok := s.place("tvg", "b", ext, nil); ok {
		t.Error("placed on a picture a report contradicted")
	}
	if _, ok := s.find("tvg", "a"); ok {
		t.Error("found a volume in a picture a report contradicted")
	}
	if _, ok := s.takePlaced("tvg", "unplaced"); ok {
		t.Error("a volume that was not placed is known without a report")
	}
}

func TestSpaceFindsOnlyOneRun(t *testing.T) {
	var s space
	if _, ok := s.find("tvg", "lv1"); ok {
		t.Error("found with no report read")
	}
	s.load(append(report(), seg("2", "lv1", 0, 10)), 0)
	if _, ok := s.find("tvg", "lv1"); ok {
		t.Error("found a volume of two runs")
	}
	got, ok := s.find("tvg", "data1")
	if !ok || got.Tags != nil || got.LV != "data1" {
		t.Errorf("data1 = %+v, %v", got, ok)
	}
}

// LVM refuses extents of a PV marked not allocatable: none are chosen there.
func TestSpaceSkipsPVsNotAllocatable(t *testing.T) {
	var s space
	segs := report()
	segs[3].Allocatable = false // loop2
	s.load(segs, 0)
	mustPlace(t, &s, "a", 202) // the whole free run of loop1
	if pl, ok := s.place("tvg", "b", ext, nil); ok {
		t.Errorf("placed on a PV not allocatable: %+v", pl.seg)
	}
}
