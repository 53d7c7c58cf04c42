//go:build integration

package btrfsd_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	api "github.com/toposuite/toposuite/internal/daemonapi"
	"github.com/toposuite/toposuite/internal/testutil"
)

// BenchmarkCreateLimitRemove compares btrfsd (create with limit + remove
// over gRPC on its socket; ioctls inside) with the btrfs CLI doing the same
// work (`subvolume create` + `qgroup limit` + `subvolume delete`), on the
// same pool, sequentially and with 4 concurrent clients, rounds alternating.
func BenchmarkCreateLimitRemove(b *testing.B) {
	ops := 200
	if s := os.Getenv("TOPOSUITE_BENCH_OPS"); s != "" {
		ops, _ = strconv.Atoi(s)
	}
	r := newRig(b, 2*gib, "")
	r.stop()
	r.cfg.PollInterval.Duration = time.Second // the production default
	r.start()
	const size = 8 * mib
	cli := func(name string) error {
		path := filepath.Join(r.pool, name)
		if _, err := testutil.RunErr(nil, "btrfs", "subvolume", "create", path); err != nil {
			return err
		}
		if _, err := testutil.RunErr(nil, "btrfs", "qgroup", "limit", strconv.Itoa(int(size)), path); err != nil {
			return err
		}
		_, err := testutil.RunErr(nil, "btrfs", "subvolume", "delete", path)
		return err
	}
	viaBtrfsd := func(name string) error {
		c := context.Background()
		if _, err := r.client.CreateVolume(c, &api.CreateVolumeRequest{Name: name, SizeBytes: size}); err != nil {
			return err
		}
		_, err := r.client.RemoveVolume(c, &api.RemoveVolumeRequest{Name: name})
		return err
	}
	for _, workers := range []int{1, 4} {
		res := testutil.Compare(b, workers, ops, cli, viaBtrfsd)
		cs, ds := res.Raw, res.Daemon
		res.Print("create+limit+remove of an 8 MiB subvolume", workers, "btrfs CLI", "btrfsd")
		speedup := ds.OpsPerSec / cs.OpsPerSec
		fmt.Printf("  btrfsd is %.1fx faster than the CLI (p50 %.1fx)\n", speedup, float64(cs.P50)/float64(ds.P50))
		b.ReportMetric(speedup, fmt.Sprintf("speedup-%dw", workers))
		b.ReportMetric(ds.OpsPerSec, fmt.Sprintf("btrfsd-ops/s-%dw", workers))
		b.ReportMetric(cs.OpsPerSec, fmt.Sprintf("cli-ops/s-%dw", workers))
	}
}
