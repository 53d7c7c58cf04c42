package lvm

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParsePVSegments(t *testing.T) {
	segs, err := ParsePVSegments(readTestdata(t, "pvsegs.json"))
	if err != nil {
		t.Fatal(err)
	}
	const ext = 4 << 20
	want := []PVSegment{
		{PV: "/dev/loop1", VG: "tvg", LV: "lv1", Allocatable: true, Start: 0, Extents: 50, PEStart: 1 << 20, ExtentSize: ext, Offset: 1 << 20, Size: 50 * ext},
		{PV: "/dev/loop1", VG: "tvg", LV: "data1", Allocatable: true, Tags: []string{"toposuite.io/class=ssd", "toposuite.io/owned"},
			Start: 50, Extents: 3, PEStart: 1 << 20, ExtentSize: ext, Offset: 1<<20 + 50*ext, Size: 3 * ext},
		{PV: "/dev/loop1", VG: "tvg", LV: "", Allocatable: true, Start: 53, Extents: 202, PEStart: 1 << 20, ExtentSize: ext, Offset: 1<<20 + 53*ext, Size: 202 * ext},
		{PV: "/dev/loop2", VG: "tvg", LV: "", Start: 0, Extents: 127, PEStart: 1 << 20, ExtentSize: ext, Offset: 1 << 20, Size: 127 * ext},
	}
	if d := cmp.Diff(want, segs); d != "" {
		t.Errorf("segments (-want +got):\n%s", d)
	}
	for _, bad := range []string{`{`, `{"report":[{"pvseg":[{"pv_name":"/dev/x","vg_extent_size":"0","pe_start":"0","pvseg_start":"0","pvseg_size":"1"}]}]}`,
		`{"report":[{"pvseg":[{"pv_name":"/dev/x","vg_extent_size":"4194304","pe_start":"0","pvseg_start":"-1","pvseg_size":"1"}]}]}`} {
		if _, err := ParsePVSegments([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

func FuzzParsePVSegments(f *testing.F) {
	f.Add(readTestdata(f, "pvsegs.json"))
	f.Fuzz(func(t *testing.T, b []byte) {
		segs, err := ParsePVSegments(b)
		if err != nil {
			return
		}
		for _, s := range segs {
			if s.Offset < 0 || s.Size < 0 {
				t.Fatalf("negative segment %+v", s)
			}
		}
	})
}
