//go:build integration

package csi_test

import (
	"testing"
	"time"

	"github.com/toposuite/toposuite/internal/testutil"
	"github.com/toposuite/toposuite/internal/testutil/vm"
)

// TestIntegrationVMNodeOnDeviceMapper boots one VM with a stock Debian
// kernel and runs this package's TestVM* tests in it
// (vm_*_inner_test.go): TopoLVM's node plugin with lvmd embedded in LVM's
// own activation, and the controller plugin, on real device-mapper, against
// an API server on this host which the guest reaches over qemu's user
// network. make test-vm runs it; docs/testing.md, "The VM lane".
func TestIntegrationVMNodeOnDeviceMapper(t *testing.T) {
	vm.Require(t)
	o := vm.GoTestOptions{
		Options: vm.Options{Disks: 3, DiskSize: 2 << 30, MemoryMiB: 2048, CPUs: 2, Timeout: 40 * time.Minute},
		Tags:    "integration,vminner",
		// testutil.Tool finds csi-sanity there.
		Env: []string{"KUBEBUILDER_ASSETS=/toposuite/tools"},
	}
	cfg, _ := testutil.APIServer(t)
	o.UseAPIServer(t, cfg)
	o.Files["/toposuite/tools/csi-sanity"] = testutil.Tool(t, "csi-sanity")
	vm.RunGoTest(t, ".", "^TestVM", o)
}
