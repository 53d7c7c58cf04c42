//go:build integration

package lvmd_test

import (
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

// TestIntegrationVMProductionPath boots one VM with a stock Debian kernel
// (device-mapper, thin, snapshot, raid) and runs this package's tests in
// it: the lane's own (vm_inner_test.go: LVM's activation, thin pools,
// snapshots, RAID, stripes, online ext4 grow) and the integration tests,
// which on that kernel run with LVM's activation on instead of the host's
// metadata-only mode. make test-vm runs it; docs/testing.md, "The VM lane".
func TestIntegrationVMProductionPath(t *testing.T) {
	if os.Getenv("TOPOSUITE_IN_VM") != "" {
		t.Skip("this is the guest")
	}
	r := vm.RunGoTest(t, ".", "^(TestVM|TestIntegration)", vm.GoTestOptions{
		Options: vm.Options{Disks: 3, DiskSize: 1 << 30, MemoryMiB: 1536, CPUs: 2, Timeout: 20 * time.Minute},
		Tags:    "integration,vminner",
		Skip:    "^(" + strings.Join(vmSkip, "|") + ")",
	})
	t.Logf("in the VM: passed %s", strings.Join(r.Passed, " "))
	if len(r.Skipped) > 0 {
		t.Logf("in the VM: skipped %s", strings.Join(r.Skipped, " "))
	}
}
