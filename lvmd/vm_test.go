//go:build integration

package lvmd_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/toposuite/toposuite/internal/testutil/vm"
)

// vmSkip names the integration tests that do not run in the VM, and why:
//   - TestIntegrationVM*: the host side of the lane itself.
//   - TestIntegrationDevelopmentLoop*: the development loop activation
//     stands in for device-mapper on kernels without it, and the host runs
//     those tests; in the VM they passed but took over two minutes, and the
//     burst of 12 creates ran past its one-minute context under TCG.
var vmSkip = []string{
	"TestIntegrationVM",
	"TestIntegrationDevelopmentLoop",
}

// vmOptions is the guest of this package's VM runs: four disks of 1 GiB
// (RAID10 puts its two mirrored stripes on four PVs).
func vmOptions(timeout time.Duration) vm.Options {
	return vm.Options{
		Disks: 4, DiskSize: 1 << 30, MemoryMiB: 1536, CPUs: 2, Timeout: timeout,
		// lvmd prepare inspects devices with lsblk, which the lane's base
		// initramfs lacks; its libraries are there (mount and lvm use them).
		Files: map[string]string{"/usr/bin/lsblk": "/usr/bin/lsblk"},
	}
}

// TestIntegrationVMProductionPath boots one VM with a stock Debian kernel
// (device-mapper, thin, snapshot, raid) and runs this package's tests in
// it: the lane's own (vm_*_inner_test.go: LVM's activation, thin pools,
// snapshots, RAID1/5/10, stripes, RAID-aware capacity, online ext4 and xfs
// grow, lvmd prepare's thin pools) and the integration tests, which on
// that kernel run with LVM's activation on instead of the host's
// metadata-only mode. make test-vm runs it; docs/testing.md, "The VM lane".
func TestIntegrationVMProductionPath(t *testing.T) {
	if os.Getenv("TOPOSUITE_IN_VM") != "" {
		t.Skip("this is the guest")
	}
	r := vm.RunGoTest(t, ".", "^(TestVM|TestIntegration)", vm.GoTestOptions{
		Options: vmOptions(30 * time.Minute),
		Tags:    "integration,vminner",
		Skip:    "^(" + strings.Join(vmSkip, "|") + ")",
	})
	t.Logf("in the VM: passed %s", strings.Join(r.Passed, " "))
	if len(r.Skipped) > 0 {
		t.Logf("in the VM: skipped %s", strings.Join(r.Skipped, " "))
	}
}

// vmBenchBegin and vmBenchEnd frame the figures of the benchmark on the
// guest's console (vm_bench_inner_test.go prints them).
const (
	vmBenchBegin = "--- figures of the VM benchmark ---"
	vmBenchEnd   = "--- end of the figures ---"
)

// TestVMLaneBenchmark boots the VM for the benchmark of lvmd against the
// raw lvm CLI with LVM's activation (TestVMBenchCreateRemove in the guest)
// and prints its figures. make bench-vm runs it (TOPOSUITE_VM_BENCH=1);
// otherwise it skips, so that the test lanes boot no VM for it.
func TestVMLaneBenchmark(t *testing.T) {
	if os.Getenv("TOPOSUITE_IN_VM") != "" {
		t.Skip("this is the guest")
	}
	if os.Getenv("TOPOSUITE_VM_BENCH") != "1" {
		t.Skip("a benchmark: make bench-vm runs it")
	}
	env := []string{"TOPOSUITE_VM_BENCH=1"}
	if ops := os.Getenv("TOPOSUITE_VM_BENCH_OPS"); ops != "" {
		env = append(env, "TOPOSUITE_VM_BENCH_OPS="+ops)
	}
	r := vm.RunGoTest(t, ".", "^TestVMBenchCreateRemove$", vm.GoTestOptions{
		Options: vmOptions(30 * time.Minute),
		Tags:    "integration,vminner",
		Env:     env,
	})
	// The figures, as the guest printed them between its markers.
	out := strings.ReplaceAll(r.Output, "\r", "")
	_, fig, ok := strings.Cut(out, vmBenchBegin)
	fig, _, end := strings.Cut(fig, vmBenchEnd)
	if !ok || !end {
		t.Fatalf("no figures on the guest's console:\n%s", r.Output)
	}
	fmt.Println(strings.TrimSpace(fig))
}
