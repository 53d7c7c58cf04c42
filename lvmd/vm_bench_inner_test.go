//go:build vminner

package lvmd_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"

	api "github.com/toposuite/toposuite/internal/daemonapi"
	"github.com/toposuite/toposuite/internal/testutil"
	"github.com/toposuite/toposuite/lvmd/config"
)

// TestVMBenchCreateRemove runs the benchmark BenchmarkVMCreateRemove in the
// guest. make bench-vm asks for it (TOPOSUITE_VM_BENCH=1); in make test-vm
// it skips: figures are for reading, never for passing or failing a test.
func TestVMBenchCreateRemove(t *testing.T) {
	if os.Getenv("TOPOSUITE_VM_BENCH") != "1" {
		t.Skip("a benchmark: make bench-vm runs it")
	}
	r := newVMRig(t, vmRigSpec{disks: vmDisks[:1], classes: []config.DeviceClass{{Name: "ssd", Default: true}}})
	ops := 16
	if s := os.Getenv("TOPOSUITE_VM_BENCH_OPS"); s != "" {
		var err error
		if ops, err = strconv.Atoi(s); err != nil || ops < 4 {
			t.Fatalf("TOPOSUITE_VM_BENCH_OPS=%q: want a number of at least 4", s)
		}
	}
	// Errors of the operations are kept here: testing.Benchmark has its
	// own B, whose failure the test would not see.
	var mu sync.Mutex
	var errs []error
	record := func(err error) error {
		if err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
		return err
	}
	const size = 8 * vmMiB
	// The raw CLI as lvmd drives LVM: lvcreate with lvmd's tags and LVM's
	// activation (the device node appears), then lvremove.
	raw := func(name string) error {
		if _, err := testutil.RunErr(r.env.Env, "lvm", "lvcreate", "-y", "-n", name, "-L", strconv.FormatInt(size, 10)+"b",
			"--addtag", config.OwnerTag, "--addtag", "toposuite.io/class=ssd", r.vg); err != nil {
			return record(err)
		}
		_, err := testutil.RunErr(r.env.Env, "lvm", "lvremove", "-y", r.vg+"/"+name)
		return record(err)
	}
	viaLVMD := func(name string) error {
		c := context.Background()
		if _, err := r.client.CreateVolume(c, &api.CreateVolumeRequest{Name: name, SizeBytes: size}); err != nil {
			return record(err)
		}
		_, err := r.client.RemoveVolume(c, &api.RemoveVolumeRequest{Name: name})
		return record(err)
	}
	res := testing.Benchmark(func(b *testing.B) { benchmarkVMCreateRemove(b, ops, raw, viaLVMD) })
	if len(errs) > 0 {
		t.Fatalf("%d operations failed, the first: %v", len(errs), errs[0])
	}
	fmt.Printf("BenchmarkVMCreateRemove\t%s\n%s\n", res, vmBenchEnd)
}

// benchmarkVMCreateRemove compares lvmd (create + remove through its
// daemon API) with the raw lvm CLI doing the same, in the same run,
// sequentially and with 4 concurrent clients, alternating rounds so that
// drift of the machine hits both alike (testutil.Compare).
func benchmarkVMCreateRemove(b *testing.B, ops int, raw, viaLVMD func(string) error) {
	fmt.Println(vmBenchBegin)
	for range b.N {
		for _, workers := range []int{1, 4} {
			res := testutil.Compare(b, workers, ops, raw, viaLVMD)
			res.Print("create+remove of an 8 MiB thick LV with LVM's activation, in a qemu VM (TCG)", workers, "raw lvm", "lvmd")
			// Time per op of lvmd over the raw CLI's: below 1 lvmd is faster.
			ratio := res.Raw.OpsPerSec / res.Daemon.OpsPerSec
			fmt.Printf("  ratio lvmd/raw (time per op): %.3fx (p50 %.3fx)\n", ratio, float64(res.Daemon.P50)/float64(res.Raw.P50))
			b.ReportMetric(ratio, fmt.Sprintf("lvmd/raw-ratio-%dw", workers))
			b.ReportMetric(res.Daemon.OpsPerSec, fmt.Sprintf("lvmd-ops/s-%dw", workers))
			b.ReportMetric(res.Raw.OpsPerSec, fmt.Sprintf("raw-ops/s-%dw", workers))
		}
	}
}
