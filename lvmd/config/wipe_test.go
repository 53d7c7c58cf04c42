package config

import "testing"

func TestWipeOnRemoveDefaultsToNone(t *testing.T) {
	c, err := Parse([]byte("deviceClasses: [{name: a, volumeGroup: vg, default: true}, {name: b, volumeGroup: vg, type: thin, thinPool: {name: p, overprovisionRatio: 1}}, {name: c, volumeGroup: vg, wipeOnRemove: zero}]"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{WipeNone, WipeNone, WipeZero} {
		if got := c.DeviceClasses[i].WipeOnRemove; got != want {
			t.Errorf("class %s: wipeOnRemove = %q, want %q", c.DeviceClasses[i].Name, got, want)
		}
	}
}
