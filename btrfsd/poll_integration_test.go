//go:build integration

package btrfsd_test

import (
	"path/filepath"
	"strconv"
	"testing"
	"time"

	api "github.com/toposuite/toposuite/internal/daemonapi"
	"github.com/toposuite/toposuite/internal/testutil"
)

// A poll reads a pool in full only when its filesystem's generation moved.
// Each change made by hand to an existing pool moves it, so the Watch
// stream shows it: a quota limit raised on a volume, a volume deleted.
func TestIntegrationPollSeesChangesByHand(t *testing.T) {
	r := newRig(t, gib, "500Mi") // a budget, so that limits show in the capacity
	c := testutil.Context(t)
	if _, err := r.client.CreateVolume(c, &api.CreateVolumeRequest{Name: "vol", SizeBytes: 50 * mib}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(r.pool, "vol")
	// Let polls pass with nothing changed, so the pool's generation is
	// the one of its last full read.
	base := r.available()
	time.Sleep(5 * r.cfg.PollInterval.Duration)
	if a := r.available(); a != base {
		t.Fatalf("capacity moved from %d to %d with nothing changed", base, a)
	}

	testutil.Run(t, nil, "btrfs", "qgroup", "limit", strconv.FormatInt(150*mib, 10), path)
	testutil.Eventually(t, "the raised limit in the capacity", func() bool { return r.available() == base-100*mib })

	testutil.Run(t, nil, "btrfs", "subvolume", "delete", path)
	testutil.Eventually(t, "the deleted volume's room back", func() bool { return r.available() == base+50*mib })
}
