//go:build integration

package lvmd_test

import (
	"testing"
	"time"

	api "github.com/toposuite/toposuite/internal/daemonapi"
	"github.com/toposuite/toposuite/internal/testutil"
	"github.com/toposuite/toposuite/lvmd/config"
)

// With the development activation too, wipeOnRemove clears a volume's
// extents before they go back to the volume group: a new volume on them
// reads zeros, where with none (the control) the old bytes show.
func TestIntegrationDevelopmentLoopWipeOnRemove(t *testing.T) {
	for _, mode := range []string{config.WipeNone, config.WipeDiscard, config.WipeZero} {
		t.Run(mode, func(t *testing.T) {
			r, _ := newDevLoopRig(t)
			r.stop()
			r.cfg.DeviceClasses[0].WipeOnRemove = mode
			r.start()
			c := testutil.Context(t)
			const size = 256 * mib
			old, err := r.client.CreateVolume(c, &api.CreateVolumeRequest{Name: "old", SizeBytes: size})
			if err != nil {
				t.Fatal(err)
			}
			extents := r.env.LVM(t, "lvs", "--noheadings", "-o", "seg_pe_ranges", r.vg+"/old")
			fillByte(t, old.Volume.Path, size, 0xA5)
			start := time.Now()
			if _, err := r.client.RemoveVolume(c, &api.RemoveVolumeRequest{Name: "old"}); err != nil {
				t.Fatal(err)
			}
			t.Logf("wipeOnRemove %s: removing a %d MiB volume (development activation) took %v", mode, size/mib, time.Since(start).Round(time.Millisecond))
			n, err := r.client.CreateVolume(c, &api.CreateVolumeRequest{Name: "new", SizeBytes: size})
			if err != nil {
				t.Fatal(err)
			}
			if got := r.env.LVM(t, "lvs", "--noheadings", "-o", "seg_pe_ranges", r.vg+"/new"); got != extents {
				t.Fatalf("the new volume is on %s, not on the old one's extents %s: the test proves nothing", got, extents)
			}
			// The development activation clears the first and last MiB of
			// a new volume itself: the old bytes are looked for between.
			stillThere := holdsByte(t, n.Volume.Path, 0xA5, mib, size-mib)
			switch {
			case mode == config.WipeNone && !stillThere:
				t.Errorf("control: with wipeOnRemove none the old bytes are gone too; the test cannot tell a wipe from none")
			case mode != config.WipeNone:
				wantZeros(t, n.Volume.Path, 0, size)
			}
			if _, err := r.client.RemoveVolume(c, &api.RemoveVolumeRequest{Name: "new"}); err != nil {
				t.Fatal(err)
			}
		})
	}
}
