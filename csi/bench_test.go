//go:build integration

package csi_test

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"

	"github.com/toposuite/toposuite/internal/testutil"
	lvmconfig "github.com/toposuite/toposuite/lvmd/config"
)

// BenchmarkCreateVolume measures CreateVolume to ready through the real
// API server and the real daemon (the controller creates the
// LogicalVolume, the node's reconciler makes the LV or subvolume, the
// controller's informer sees the answer): 100 volumes one at a time and
// with 8 concurrent callers, for each driver. Each volume is deleted after
// its round; deletion is not timed.
func BenchmarkCreateVolume(b *testing.B) {
	ops := 100
	if s := os.Getenv("TOPOSUITE_BENCH_OPS"); s != "" {
		ops, _ = strconv.Atoi(s)
	}
	// LVM is measured twice: with LVM's own activation (what production
	// runs: one lvcreate per volume; here in metadata-only mode, so the
	// volumes have no device, which CreateVolume does not need) and with the
	// development loop activation (lvcreate, pvs --segments and losetup).
	for _, driver := range []string{"topolvm.io", "topolvm.io+devloop", "topols.io"} {
		b.Run(driver, func(b *testing.B) {
			var p *plugins
			switch driver {
			case "topolvm.io":
				p, _, _, _ = lvmRigWith(b, false, lvmconfig.ActivationLVM)
			case "topolvm.io+devloop":
				p, _, _, _ = lvmRigWith(b, false, lvmconfig.ActivationDevelopmentLoop)
			default:
				p, _ = btrfsRig(b)
			}
			c := testutil.Context(b)
			create := func(name string) error {
				_, err := p.ctl.CreateVolume(c, &csi.CreateVolumeRequest{
					Name: name, VolumeCapabilities: []*csi.VolumeCapability{mountCap("")},
					CapacityRange: &csi.CapacityRange{RequiredBytes: 4 * mib}, AccessibilityRequirements: p.topology(),
				})
				return err
			}
			// The first volume of a fresh process pays one-time costs (about
			// 2 s here: client discovery and informer warm-up); it is timed
			// and reported apart from the steady state.
			t0 := time.Now()
			if err := create("pvc-warmup"); err != nil {
				b.Fatal(err)
			}
			fmt.Printf("\nfirst volume of a fresh process (%s): %s\n", driver, time.Since(t0).Round(time.Millisecond))
			if _, err := p.ctl.DeleteVolume(c, &csi.DeleteVolumeRequest{VolumeId: "pvc-warmup"}); err != nil {
				b.Fatal(err)
			}
			p.lvGone(b, "pvc-warmup")
			for _, workers := range []int{1, 8} {
				prefix := fmt.Sprintf("pvc-bench-%d-", workers)
				lat, wall := testutil.Drive(b, workers, ops, prefix, create)
				s := testutil.Summarize(lat, wall)
				fmt.Printf("\nCreateVolume to ready, %s, %d volumes, %d concurrent: p50 %s, p99 %s, %.1f volumes/s (target p50 < 100ms)\n",
					driver, ops, workers, s.P50, s.P99, s.OpsPerSec)
				b.ReportMetric(float64(s.P50.Microseconds())/1000, fmt.Sprintf("p50-ms-%dw", workers))
				b.ReportMetric(float64(s.P99.Microseconds())/1000, fmt.Sprintf("p99-ms-%dw", workers))
				// Delete and wait until the node removed every volume, so that
				// removals do not compete with the next round.
				for i := range ops {
					if _, err := p.ctl.DeleteVolume(c, &csi.DeleteVolumeRequest{VolumeId: p.d.VolumeID(prefix + strconv.Itoa(i))}); err != nil {
						b.Fatal(err)
					}
				}
				for i := range ops {
					p.lvGone(b, p.d.VolumeID(prefix+strconv.Itoa(i)))
				}
			}
		})
	}
}
