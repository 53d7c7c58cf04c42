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

// A poll remembers each subvolume's id and reads only its quota figures
// again; every change made by hand still shows in the capacity: a quota
// limit raised on a volume, a volume deleted, a subvolume made again under
// a name the poll remembers.
func TestIntegrationPollSeesChangesByHand(t *testing.T) {
	r := newRig(t, gib, "500Mi") // a budget, so that limits show in the capacity
	c := testutil.Context(t)
	if _, err := r.client.CreateVolume(c, &api.CreateVolumeRequest{Name: "vol", SizeBytes: 50 * mib}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(r.pool, "vol")
	// Let polls pass with nothing changed, so that the ids are
	// remembered.
	base := r.available()
	time.Sleep(5 * r.cfg.PollInterval.Duration)
	if a := r.available(); a != base {
		t.Fatalf("capacity moved from %d to %d with nothing changed", base, a)
	}

	testutil.Run(t, nil, "btrfs", "qgroup", "limit", strconv.FormatInt(150*mib, 10), path)
	testutil.Eventually(t, "the raised limit in the capacity", func() bool { return r.available() == base-100*mib })

	testutil.Run(t, nil, "btrfs", "subvolume", "delete", path)
	testutil.Eventually(t, "the deleted volume's room back", func() bool { return r.available() == base+50*mib })

	// Made again under the same name: another subvolume, whose limit
	// counts, not the remembered one's.
	testutil.Run(t, nil, "btrfs", "subvolume", "create", path)
	testutil.Run(t, nil, "btrfs", "qgroup", "limit", strconv.FormatInt(30*mib, 10), path)
	testutil.Eventually(t, "the new subvolume's limit in the capacity", func() bool { return r.available() == base+20*mib })
	testutil.Run(t, nil, "btrfs", "subvolume", "delete", path)
}
