//go:build vminner

package lvmd_test

// wipeOnRemove on a real kernel: a new thick volume on the extents of a
// removed one shows none of its bytes, and what each mode costs.

import (
	"testing"
	"time"

	api "github.com/toposuite/toposuite/internal/daemonapi"
	"github.com/toposuite/toposuite/lvmd/config"
)

// TestVMWipeOnRemove fills a volume, removes it, makes a volume of the
// same size on the same extents and reads it: with discard and zero it
// holds only zeros; with none (the control, which shows that the test can
// see old bytes) the old bytes are still there. The 256 MiB volume is
// written and read whole; the 1 GiB one, there for the cost, in 17 MiB
// spread over it (its whole would take minutes under the VM's emulated
// CPU). The time of each removal is logged: docs/lvmd.md quotes them.
func TestVMWipeOnRemove(t *testing.T) {
	for _, mode := range []string{config.WipeNone, config.WipeDiscard, config.WipeZero} {
		t.Run(mode, func(t *testing.T) {
			r := newVMRig(t, vmRigSpec{disks: vmDisks[:2], classes: []config.DeviceClass{{Name: "ssd", Default: true, WipeOnRemove: mode}}})
			for _, size := range []int64{256 * vmMiB, 1024 * vmMiB} {
				regions := [][2]int64{{0, size}}
				if size > 256*vmMiB {
					regions = spread(size)
				}
				old := r.create(&api.CreateVolumeRequest{Name: "old", SizeBytes: size})
				extents := r.lvsField(r.vg+"/old", "seg_pe_ranges")
				for _, g := range regions {
					fillRange(t, old.Path, g[0], g[1], 0xA5)
				}
				start := time.Now()
				r.remove("", "old")
				t.Logf("wipeOnRemove %s: removing a %d MiB thick volume took %v", mode, size/vmMiB, time.Since(start).Round(time.Millisecond))

				n := r.create(&api.CreateVolumeRequest{Name: "new", SizeBytes: size})
				if got := r.lvsField(r.vg+"/new", "seg_pe_ranges"); got != extents {
					t.Fatalf("the new volume is on %s, not on the old one's extents %s: the test proves nothing", got, extents)
				}
				// LVM clears the first 4 KiB of a new LV itself: the old
				// bytes are looked for past them.
				stillThere := false
				for _, g := range regions {
					off := max(g[0], 4096)
					if mode == config.WipeNone {
						stillThere = stillThere || holdsByte(t, n.Path, 0xA5, off, g[0]+g[1])
					} else {
						wantZeros(t, n.Path, off, g[0]+g[1]-off)
					}
				}
				if mode == config.WipeNone && !stillThere {
					t.Errorf("control: with wipeOnRemove none the old bytes are gone too; the test cannot tell a wipe from none")
				}
				r.remove("", "new")
			}
		})
	}
}

// spread returns 17 ranges of 1 MiB, {offset, length}, from the start to
// the end of a volume of size bytes.
func spread(size int64) [][2]int64 {
	var out [][2]int64
	for k := int64(0); k < 16; k++ {
		out = append(out, [2]int64{k * size / 16, vmMiB})
	}
	return append(out, [2]int64{size - vmMiB, vmMiB})
}

// On a thin class, discard sends the volume's blocks back to the pool
// before the removal: the removal works on the real kernel, the pool is
// empty after it, and a new thin volume reads zeros (the pool zeroes the
// blocks it gives out).
func TestVMWipeOnRemoveThinDiscard(t *testing.T) {
	r := newVMRig(t, vmRigSpec{disks: vmDisks[:1], pool: 128 * vmMiB, classes: []config.DeviceClass{{
		Name: "thin", Default: true, Type: config.TypeThin, WipeOnRemove: config.WipeDiscard,
		ThinPool: &config.ThinPool{Name: vmPool, OverprovisionRatio: 1},
	}}})
	const size = 64 * vmMiB
	old := r.create(&api.CreateVolumeRequest{Name: "old", SizeBytes: size})
	fillByte(t, old.Path, size, 0xA5)
	if pct := r.lvsFloat(r.vg+"/"+vmPool, "data_percent"); pct < 45 {
		t.Fatalf("pool data after writing 64 MiB of 128 MiB = %.2f%%: the test proves nothing", pct)
	}
	r.remove("", "old")
	if pct := r.lvsFloat(r.vg+"/"+vmPool, "data_percent"); pct != 0 {
		t.Errorf("pool data after the removal = %.2f%%, want 0", pct)
	}
	n := r.create(&api.CreateVolumeRequest{Name: "new", SizeBytes: size})
	wantZeros(t, n.Path, 0, size)
	r.remove("", "new")
}
