package config

import "testing"

func TestParseLayout(t *testing.T) {
	cases := []struct {
		opts []string
		want Layout
	}{
		{nil, Layout{Type: "linear"}},
		{[]string{"--type=raid1", "-m", "1"}, Layout{Type: "raid1", Mirrors: 1}},
		{[]string{"--type raid1 --mirrors 2"}, Layout{Type: "raid1", Mirrors: 2}},
		{[]string{"-m1"}, Layout{Type: "raid1", Mirrors: 1}},
		{[]string{"--type=raid5"}, Layout{Type: "raid5", Stripes: 2}},
		{[]string{"--type=raid6", "-i", "4"}, Layout{Type: "raid6", Stripes: 4}},
		{[]string{"--type=raid10", "-i2", "-m1"}, Layout{Type: "raid10", Mirrors: 1, Stripes: 2}},
		{[]string{"--type=striped", "-i3", "--nosync"}, Layout{Type: "striped", Stripes: 3}},
	}
	for _, tc := range cases {
		got, err := ParseLayout(tc.opts)
		if err != nil || got != tc.want {
			t.Errorf("ParseLayout(%q) = %+v, %v; want %+v", tc.opts, got, err, tc.want)
		}
	}
	for _, bad := range [][]string{{"-L", "1G"}, {"--thinpool=p"}, {"--type=thin"}, {"-m"}, {"-m", "x"}, {"--addtag=x"}} {
		if _, err := ParseLayout(bad); err == nil {
			t.Errorf("ParseLayout(%q) accepted", bad)
		}
	}
}

func TestFootprint(t *testing.T) {
	const ext = 4 << 20
	cases := []struct {
		l    Layout
		size int64
		want int64 // extents
	}{
		{Layout{Type: "linear"}, 10 << 20, 3},
		{Layout{Type: "striped", Stripes: 2}, 10 << 20, 4},
		{Layout{Type: "raid1", Mirrors: 1}, 100 << 20, 2 * (25 + 1)},
		{Layout{Type: "raid1", Mirrors: 2}, 100 << 20, 3 * (25 + 1)},
		{Layout{Type: "raid5", Stripes: 2}, 100 << 20, 3 * (13 + 1)},
		{Layout{Type: "raid6", Stripes: 3}, 120 << 20, 5 * (10 + 1)},
		{Layout{Type: "raid10", Mirrors: 1, Stripes: 2}, 100 << 20, 2*26 + 4},
	}
	for _, tc := range cases {
		if got := tc.l.Footprint(tc.size, ext); got != tc.want*ext {
			t.Errorf("%+v size %d: footprint %d extents, want %d", tc.l, tc.size, got/ext, tc.want)
		}
	}
}

// Legs and LegExtents describe the same volume as Footprint: the legs hold
// all of it (the legacy mirror's extra leg is its log's PV).
func TestLegsHoldTheFootprint(t *testing.T) {
	const ext = 4 << 20
	cases := []struct {
		l          Layout
		legs, data int
	}{
		{Layout{Type: "linear"}, 1, 1},
		{Layout{Type: "linear", Stripes: 3}, 3, 3},
		{Layout{Type: "striped", Stripes: 2}, 2, 2},
		{Layout{Type: "raid0_meta", Stripes: 2}, 2, 2},
		{Layout{Type: "raid1", Mirrors: 1}, 2, 1},
		{Layout{Type: "raid1", Mirrors: 2}, 3, 1},
		{Layout{Type: "mirror", Mirrors: 1}, 3, 1},
		{Layout{Type: "raid5", Stripes: 2}, 3, 2},
		{Layout{Type: "raid6", Stripes: 3}, 5, 3},
		{Layout{Type: "raid10", Mirrors: 1, Stripes: 2}, 4, 2},
		{Layout{Type: "raid10", Mirrors: 1}, 4, 2},
	}
	for _, tc := range cases {
		if tc.l.Legs() != tc.legs || tc.l.DataLegs() != tc.data {
			t.Errorf("%+v: %d legs, %d with data; want %d, %d", tc.l, tc.l.Legs(), tc.l.DataLegs(), tc.legs, tc.data)
		}
		for _, size := range []int64{1, 10 << 20, 100 << 20, 1 << 30} {
			legs, per, fp := int64(tc.l.Legs()), tc.l.LegExtents(size, ext), tc.l.Footprint(size, ext)/ext
			want := legs * per
			if tc.l.Type == "mirror" {
				want -= per // the log's leg holds one extent, counted in each image
			}
			if fp != want {
				t.Errorf("%+v size %d: footprint %d extents, legs hold %d", tc.l, size, fp, want)
			}
		}
	}
}
