//go:build integration

package btrfsd_test

import (
	"path/filepath"
	"strconv"
	"testing"

	"github.com/toposuite/toposuite/internal/daemon"
	api "github.com/toposuite/toposuite/internal/daemonapi"
	"github.com/toposuite/toposuite/internal/testutil"
)

// BenchmarkScaleVolumes measures btrfsd (in this process, as topols-node
// embeds it, polling every second) with 10, 100, 1,000 and 5,000 existing
// subvolumes in one pool: create and remove latency, idle CPU with a Watch
// stream open, RSS, how long a subvolume made with the btrfs CLI takes to
// show in the Watch stream, and a restart's time to its first answer.
// make bench-scale runs it.
func BenchmarkScaleVolumes(b *testing.B) {
	sizes := testutil.ScaleSizes(b)
	// A budget below the filesystem's free space, so that the out-of-band
	// subvolume's quota limit counts in the capacity.
	r := newRig(b, 16*gib, "12Gi")
	r.stop()
	r.cfg.PollInterval.Duration = daemon.DefaultPollInterval
	r.start()
	rows := testutil.MeasureScale(b, sizes, testutil.ScaleRig{
		Client:  func() api.StorageDaemonClient { return r.client },
		Restart: func() { r.stop(); r.start() },
		Create: func(name string) *api.CreateVolumeRequest {
			return &api.CreateVolumeRequest{Name: name, SizeBytes: mib}
		},
		OutOfBand: func(i int) (func(*api.CapacityResponse) bool, func()) {
			before := r.available()
			path := filepath.Join(r.pool, "byhand-"+strconv.Itoa(i))
			testutil.Run(b, nil, "btrfs", "subvolume", "create", path)
			testutil.Run(b, nil, "btrfs", "qgroup", "limit", "64M", path)
			return func(m *api.CapacityResponse) bool { return m.Classes[0].AvailableBytes <= before-64*mib },
				func() { testutil.Run(b, nil, "btrfs", "subvolume", "delete", path) }
		},
	})
	testutil.PrintScale(b, "btrfsd", rows)
}
