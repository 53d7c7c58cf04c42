//go:build integration

package csi_test

import (
	"strings"
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"

	"github.com/toposuite/toposuite/internal/testutil"
	lvmconfig "github.com/toposuite/toposuite/lvmd/config"
)

// A refused grow reaches the CSI caller with lvmd's code: under the
// development loop activation a volume followed by another cannot grow in
// place, and ControllerExpandVolume must say so (FailedPrecondition, over
// lvmd's own socket), not report the new size over the old device.
func TestIntegrationLVMExpandRefusedByTheDevice(t *testing.T) {
	p, env, vg, _ := lvmRigWith(t, true, lvmconfig.ActivationDevelopmentLoop)
	c := testutil.Context(t)
	ids := map[string]string{}
	for _, name := range []string{"pvc-first", "pvc-second"} {
		vol, err := p.ctl.CreateVolume(c, &csi.CreateVolumeRequest{
			Name: name, VolumeCapabilities: []*csi.VolumeCapability{blockCap()},
			CapacityRange: &csi.CapacityRange{RequiredBytes: 64 * mib}, AccessibilityRequirements: p.topology(),
		})
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = vol.Volume.VolumeId
		t.Cleanup(func() {
			_, _ = p.ctl.DeleteVolume(testutil.Context(t), &csi.DeleteVolumeRequest{VolumeId: vol.Volume.VolumeId})
		})
	}
	lvSize := func(id string) string {
		return strings.TrimSpace(env.LVM(t, "lvs", "--noheadings", "-o", "lv_size", "--units", "b", "--nosuffix", vg+"/"+id))
	}

	_, err := p.ctl.ControllerExpandVolume(c, &csi.ControllerExpandVolumeRequest{VolumeId: ids["pvc-first"], CapacityRange: &csi.CapacityRange{RequiredBytes: 128 * mib}, VolumeCapability: blockCap()})
	testutil.WantCode(t, err, codes.FailedPrecondition, "expanding a volume followed by another")
	if err != nil && !strings.Contains(err.Error(), "contiguous") {
		t.Errorf("error %q does not say why", err)
	}
	if got := lvSize(ids["pvc-first"]); got != "67108864" {
		t.Errorf("LV is %s bytes after the refused expansion, want 64 MiB", got)
	}

	exp, err := p.ctl.ControllerExpandVolume(c, &csi.ControllerExpandVolumeRequest{VolumeId: ids["pvc-second"], CapacityRange: &csi.CapacityRange{RequiredBytes: 128 * mib}, VolumeCapability: blockCap()})
	if err != nil || exp.CapacityBytes != 128*mib || exp.NodeExpansionRequired {
		t.Fatalf("expanding the last volume: %v, %v", exp, err)
	}
	if got := lvSize(ids["pvc-second"]); got != "134217728" {
		t.Errorf("LV is %s bytes after expansion, want 128 MiB", got)
	}
}
