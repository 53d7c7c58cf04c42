//go:build integration

package csi_test

import (
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/toposuite/toposuite/internal/controller"
	"github.com/toposuite/toposuite/internal/testutil"
)

// Kubernetes recovers from a failed expansion by letting the user lower the
// claim's request; csi-resizer then asks for the lower size. Before, the
// failure of the larger size answered every later, smaller request, so the
// volume could never grow again.
func TestIntegrationExpansionRecoversAfterAFailure(t *testing.T) {
	onBothDrivers(t, expansionRecovers)
}

func expansionRecovers(t *testing.T, p *plugins, fs string) {
	c := testutil.Context(t)
	id := p.newVolume(t, "pvc-grow", fs, 32*mib)
	expand := func(size int64) (*csi.ControllerExpandVolumeResponse, error) {
		return p.ctl.ControllerExpandVolume(c, &csi.ControllerExpandVolumeRequest{VolumeId: id,
			CapacityRange: &csi.CapacityRange{RequiredBytes: size}, VolumeCapability: mountCap(fs)})
	}
	// OutOfRange, not ResourceExhausted: csi-resizer lets the user lower
	// the request only after an answer it takes as final.
	if _, err := expand(1 << 40); status.Code(err) != codes.OutOfRange {
		t.Fatalf("expansion past the node's room: %v, want OutOfRange", err)
	}
	wantEvent(t, p, id, controller.ReasonResizeFailed)
	// The same failing size again fails again (the node is asked again).
	if _, err := expand(1 << 40); status.Code(err) != codes.OutOfRange {
		t.Errorf("retried expansion past the node's room: %v, want OutOfRange", err)
	}
	got, err := expand(64 * mib)
	if err != nil || got.CapacityBytes != 64*mib {
		t.Fatalf("lowered expansion after a failure: %v, %v; want 64 MiB", got, err)
	}
	if _, err := p.ctl.DeleteVolume(c, &csi.DeleteVolumeRequest{VolumeId: id}); err != nil {
		t.Fatal(err)
	}
	p.lvGone(t, id)
}
