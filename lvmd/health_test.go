package lvmd

import (
	"testing"

	"github.com/toposuite/toposuite/lvmd/lvm"
)

func TestHealthMessages(t *testing.T) {
	b := &Backend{st: state{pools: map[string]*poolState{
		"vg/full":     {dataPct: 100, metadataPct: 10},
		"vg/metafull": {dataPct: 50, metadataPct: 100},
		"vg/fine":     {dataPct: 99.99, metadataPct: 12},
	}}}
	for _, c := range []struct {
		name string
		lv   lvm.LV
		want string
	}{
		{"healthy thick", lvm.LV{VG: "vg", Attr: "-wi-ao----"}, ""},
		{"thin in a pool with room", lvm.LV{VG: "vg", Pool: "fine", Attr: "Vwi-aotz--"}, ""},
		{"thin in a full pool", lvm.LV{VG: "vg", Pool: "full", Attr: "Vwi-aotz--"}, "thin pool vg/full is 100% full: writes fail"},
		{"thin in a pool with full metadata", lvm.LV{VG: "vg", Pool: "metafull", Attr: "Vwi-aotz--"}, "the metadata of thin pool vg/metafull is 100% full: writes fail"},
		// A pool the last poll did not see yet (made since) is no fault.
		{"thin in an unknown pool", lvm.LV{VG: "vg", Pool: "new", Attr: "Vwi-aotz--"}, ""},
		{"partial", lvm.LV{VG: "vg", Attr: "-wi-ao--p-"}, "the volume group vg lost a physical volume: part of this volume is on a disk LVM cannot find, and reads and writes there fail"},
		{"partial thin wins over a full pool", lvm.LV{VG: "vg", Pool: "full", Attr: "Vwi-aotzp-"}, "the volume group vg lost a physical volume: part of this volume is on a disk LVM cannot find, and reads and writes there fail"},
		{"other attr bits", lvm.LV{VG: "vg", Attr: "-wi-so----"}, "suspended"},
	} {
		if got := b.health(c.lv); got != c.want {
			t.Errorf("%s: health %q, want %q", c.name, got, c.want)
		}
	}
}
