package lvm

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseLVs(t *testing.T) {
	r, err := ParseReport(readTestdata(t, "lvs-linear.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.LVs) == 0 {
		t.Fatal("no LVs parsed")
	}
	got := r.LVs[0]
	want := LV{
		Name: "data1", VG: "tvg", UUID: "NgY0xu-wB98-t6oQ-yneu-R3QR-gRrB-ebM0jd", Size: 12582912,
		Attr: "-wi-XX----", Path: "/dev/tvg/data1", Tags: []string{"toposuite.io/owned"},
		DataPercent: -1, MetadataPercent: -1, Segtype: "linear",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("LV (-want +got):\n%s", d)
	}
	if got.Attr.Active() || got.Attr.Health() != "" || !got.Attr.Writable() {
		t.Errorf("attr of a metadata-only LV decoded wrong: %q", got.Attr)
	}
}

func TestParseVGsWithMissingVG(t *testing.T) {
	// vgs exits 5 when one of the named VGs is missing but still reports the others.
	r, err := ParseReport(readTestdata(t, "vgs-missing-vg.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []VG{{Name: "tvg", UUID: "K8wIzf-L67d-blfi-cAwK-0RbM-nDE2-hYHZsL", Size: 1602224128, Free: 1379926016, ExtentSize: 4194304}}
	if d := cmp.Diff(want, r.VGs); d != "" {
		t.Errorf("VGs (-want +got):\n%s", d)
	}
}

func TestParseFullReport(t *testing.T) {
	r, err := ParseReport(readTestdata(t, "fullreport.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.VGs) != 1 || r.VGs[0].Name != "tvg" || r.VGs[0].ExtentSize != 4<<20 {
		t.Errorf("VGs = %+v", r.VGs)
	}
	if len(r.LVs) != 2 {
		t.Fatalf("LVs = %+v", r.LVs)
	}
	for _, lv := range r.LVs {
		if lv.VG != "tvg" {
			t.Errorf("LV %s: VG %q, want it taken from the report section", lv.Name, lv.VG)
		}
	}
}

func TestParseReportRejectsGarbage(t *testing.T) {
	for _, in := range []string{
		``, `{`, `{"report":[{"vg":[{"vg_name":"a","vg_size":"x","vg_free":"0","vg_extent_size":"1"}]}]}`,
		`{"report":[{"lv":[{"lv_name":"a","lv_size":"1","lv_attr":"short"}]}]}`,
		`{"report":[{"lv":[{"lv_name":"a","lv_size":"-5","lv_attr":"-wi-a-----"}]}]}`,
		`{"report":[{"lv":[{"lv_name":"a","lv_size":"1","lv_attr":"-wi-a-----","data_percent":"250"}]}]}`,
		`{"report":[{"lv":[{"lv_name":"","lv_size":"1","lv_attr":"-wi-a-----"}]}]}`,
	} {
		if _, err := ParseReport([]byte(in)); err == nil {
			t.Errorf("ParseReport(%q) accepted garbage", in)
		}
	}
}

func FuzzParseReport(f *testing.F) {
	for _, name := range []string{"lvs-linear.json", "vgs-missing-vg.json", "fullreport.json"} {
		f.Add(readTestdata(f, name))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseReport(data)
		if err != nil {
			return
		}
		for _, lv := range r.LVs {
			if lv.Size < 0 || len(lv.Attr) != 10 || lv.Name == "" {
				t.Fatalf("accepted an invalid LV: %+v", lv)
			}
			_ = lv.Attr.Health()
		}
		for _, vg := range r.VGs {
			if vg.Size < 0 || vg.Free < 0 || vg.Name == "" {
				t.Fatalf("accepted an invalid VG: %+v", vg)
			}
		}
	})
}

func FuzzParseAttr(f *testing.F) {
	for _, s := range []string{"-wi-XX----", "twi-aotz--", "Vwi-a-tzp-", "swi-I-s---"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAttr(s)
		if err != nil {
			return
		}
		_, _, _ = a.Active(), a.Writable(), a.Health()
	})
}

// A fullreport's PV part gives each PV's free space, for the room of RAID
// images and stripes; a PV LVM may not allocate from says so.
func TestParseFullReportPVs(t *testing.T) {
	r, err := ParseReport(readTestdata(t, "fullreport.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []PVSpace{
		{Name: "/dev/loop0", VG: "tvg", Free: 847249408, Allocatable: true},
		{Name: "/dev/loop1", VG: "tvg", Free: 532676608, Allocatable: true},
	}
	if d := cmp.Diff(want, r.PVs); d != "" {
		t.Errorf("PVs (-want +got):\n%s", d)
	}
	for attr, ok := range map[string]bool{"a--": true, "---": false, "a-m": false} {
		in := `{"report":[{"vg":[{"vg_name":"v","vg_size":"8","vg_free":"8","vg_extent_size":"4"}],"pv":[{"pv_name":"/dev/x","pv_free":"8","pv_attr":"` + attr + `"}]}]}`
		r, err := ParseReport([]byte(in))
		if err != nil || len(r.PVs) != 1 || r.PVs[0].Allocatable != ok || r.PVs[0].VG != "v" {
			t.Errorf("pv_attr %q: %+v, %v; want allocatable %v", attr, r.PVs, err, ok)
		}
	}
	if _, err := ParseReport([]byte(`{"report":[{"pv":[{"pv_name":"/dev/x","pv_free":"lots","pv_attr":"a--"}]}]}`)); err == nil {
		t.Error("a PV free space that is not a number was accepted")
	}
}
