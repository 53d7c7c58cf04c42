package csi

import (
	"strings"
	"testing"
)

// Capacity keys for options classes can be read back and never stand for
// a device class, whatever the class's name.
func TestCapacityKeys(t *testing.T) {
	d := LVMDriver("topolvm.io")
	for _, c := range []struct {
		class, options, key string
	}{
		{"ssd", "", "capacity.topolvm.io/ssd"},
		{"", "", "capacity.topolvm.io/00default"},
		{"ssd", "raid1", "options-capacity.topolvm.io/ssd.raid1"},
		{"", "raid1", "options-capacity.topolvm.io/00default.raid1"},
		// A device class may have dots: the last one separates.
		{"fast.ssd", "raid-1_x", "options-capacity.topolvm.io/fast.ssd.raid-1_x"},
		{"ssd.raid1", "", "capacity.topolvm.io/ssd.raid1"},
	} {
		key, ok := d.CapacityKey(c.class, c.options)
		if !ok || key != c.key {
			t.Errorf("CapacityKey(%q, %q) = %q, %v; want %q", c.class, c.options, key, ok, c.key)
		}
		class, options, ok := d.ParseCapacityKey(key)
		if !ok || class != c.class || options != c.options {
			t.Errorf("ParseCapacityKey(%q) = %q, %q, %v; want %q, %q", key, class, options, ok, c.class, c.options)
		}
		if c.options != "" {
			if _, ok := d.CapacityClass(key); ok {
				t.Errorf("%q reads as a device class's key", key)
			}
		}
	}
	for _, c := range []struct{ class, options string }{
		{"ssd", "raid.1"},                  // the separator in the options class
		{"ssd", "raid 1"},                  // not an annotation key
		{strings.Repeat("c", 60), "raid1"}, // longer than a key's 63-character name
	} {
		if key, ok := d.CapacityKey(c.class, c.options); ok {
			t.Errorf("CapacityKey(%q, %q) = %q, accepted", c.class, c.options, key)
		}
	}
	for _, key := range []string{"options-capacity.topolvm.io/ssd", "options-capacity.topolvm.io/.raid1", "options-capacity.topolvm.io/ssd.", "options-capacity.topols.io/ssd.raid1", "topolvm.io/capacity-revision"} {
		if class, options, ok := d.ParseCapacityKey(key); ok {
			t.Errorf("ParseCapacityKey(%q) = %q, %q: accepted", key, class, options)
		}
	}
}
