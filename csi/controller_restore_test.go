package csi

import (
	"context"
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
)

// A restore goes to the node with the snapshot as its source, at the size
// asked (a thick snapshot is restored by a full copy of that size), and
// answers the size the node made; what the node refuses keeps its code.
func TestRestoreSizesAndNodeAnswers(t *testing.T) {
	d := LVMDriver("topolvm.io")
	store := newMemStore()
	c := NewController(d, store, memCapacity{"n1": 50 * gib})
	ctx := context.Background()
	src, err := c.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: "src", VolumeCapabilities: mountCap(""), CapacityRange: &csi.CapacityRange{RequiredBytes: 2 * gib}})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := c.CreateSnapshot(ctx, &csi.CreateSnapshotRequest{Name: "snap", SourceVolumeId: src.Volume.VolumeId})
	if err != nil {
		t.Fatal(err)
	}
	if snap.Snapshot.SizeBytes != 2*gib {
		t.Errorf("snapshot size = %d, want its source's 2 GiB (a restore's smallest size)", snap.Snapshot.SizeBytes)
	}
	from := &csi.VolumeContentSource{Type: &csi.VolumeContentSource_Snapshot{Snapshot: &csi.VolumeContentSource_SnapshotSource{SnapshotId: snap.Snapshot.SnapshotId}}}
	restore := func(name string, size int64) (*csi.CreateVolumeResponse, error) {
		return c.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: name, VolumeCapabilities: mountCap(""),
			CapacityRange: &csi.CapacityRange{RequiredBytes: size}, VolumeContentSource: from})
	}

	r, err := restore("bigger", 3*gib)
	if err != nil {
		t.Fatal(err)
	}
	if r.Volume.CapacityBytes != 3*gib || r.Volume.ContentSource.GetSnapshot().GetSnapshotId() != snap.Snapshot.SnapshotId {
		t.Errorf("restore answer = %+v, want 3 GiB with the snapshot as content source", r.Volume)
	}
	if lv := store.lvs["bigger"]; lv.Spec.Size.Value() != 3*gib || lv.Spec.Source != store.lvs[snap.Snapshot.SnapshotId].Spec.Name || lv.Spec.AccessType != "rw" {
		t.Errorf("restore spec = %+v, want 3 GiB, writable, from the snapshot", lv.Spec)
	}

	_, err = restore("smaller", gib)
	if code(err) != codes.OutOfRange {
		t.Errorf("restore smaller than the snapshot: %v, want OutOfRange", err)
	}
	if _, ok := store.lvs["smaller"]; ok {
		t.Error("a refused restore left a LogicalVolume")
	}

	// The node cannot copy (no room for the full copy, say): its code
	// comes back and the LogicalVolume is taken back.
	store.answer = codes.ResourceExhausted
	_, err = restore("noroom", 2*gib)
	if code(err) != codes.ResourceExhausted {
		t.Errorf("restore the node refused: %v, want the node's ResourceExhausted", err)
	}
	if _, ok := store.lvs["noroom"]; ok {
		t.Error("a restore the node refused left its LogicalVolume")
	}
}
