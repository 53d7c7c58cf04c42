package csi

import (
	"context"
	"strings"
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"

	v1 "github.com/toposuite/toposuite/internal/api/topolvm/v1"
	"github.com/toposuite/toposuite/internal/storage"
)

// memStore is an in-memory VolumeStore whose "node" answers at once with
// the code set in answer (or success): the controller's logic alone, over
// the store interface; the Kubernetes store is tested against a real API
// server in the integration tests.
type memStore struct {
	lvs     map[string]*v1.LogicalVolume
	answer  codes.Code
	deleted []string
}

func newMemStore() *memStore { return &memStore{lvs: map[string]*v1.LogicalVolume{}} }

func (m *memStore) Get(_ context.Context, name string) (*v1.LogicalVolume, error) {
	lv, ok := m.lvs[name]
	if !ok {
		return nil, apierrors.NewNotFound(v1.GroupVersion.WithResource("logicalvolumes").GroupResource(), name)
	}
	return lv.DeepCopy(), nil
}

func (m *memStore) CreateAndWait(_ context.Context, lv *v1.LogicalVolume) (*v1.LogicalVolume, error) {
	if old, ok := m.lvs[lv.Name]; ok {
		return old.DeepCopy(), nil
	}
	lv = lv.DeepCopy()
	if m.answer != codes.OK {
		lv.Status.Code, lv.Status.Message = m.answer.String(), "node says no"
	} else {
		lv.Status.VolumeID = lv.Spec.Name
		q := lv.Spec.Size
		lv.Status.CurrentSize = &q
	}
	m.lvs[lv.Name] = lv
	return lv.DeepCopy(), nil
}

func (m *memStore) ResizeAndWait(_ context.Context, name string, size resource.Quantity) (*v1.LogicalVolume, error) {
	lv := m.lvs[name]
	lv.Spec.Size, lv.Status.CurrentSize = size, &size
	return lv.DeepCopy(), nil
}

func (m *memStore) Delete(_ context.Context, name string) error {
	delete(m.lvs, name)
	m.deleted = append(m.deleted, name)
	return nil
}

func (m *memStore) List(context.Context) ([]v1.LogicalVolume, error) {
	var out []v1.LogicalVolume
	for _, lv := range m.lvs {
		out = append(out, *lv)
	}
	return out, nil
}

type memCapacity map[string]int64

func (m memCapacity) Available(_ context.Context, node, _, _ string) (int64, error) {
	return m[node], nil
}
func (m memCapacity) Nodes(context.Context, string, string) (map[string]int64, error) { return m, nil }

func mountCap(fs string) []*csi.VolumeCapability {
	return []*csi.VolumeCapability{{
		AccessType: &csi.VolumeCapability_Mount{Mount: &csi.VolumeCapability_MountVolume{FsType: fs}},
		AccessMode: &csi.VolumeCapability_AccessMode{Mode: csi.VolumeCapability_AccessMode_SINGLE_NODE_WRITER},
	}}
}

func code(err error) codes.Code { return status.Code(err) }

func TestVolumeSize(t *testing.T) {
	d := LVMDriver("topolvm.io")
	cases := []struct {
		name     string
		r        *csi.CapacityRange
		fs       string
		want     int64
		wantCode codes.Code
	}{
		{"default", nil, "ext4", gib, codes.OK},
		{"required rounds up to 4 MiB", &csi.CapacityRange{RequiredBytes: 10*mib + 1}, "ext4", 12 * mib, codes.OK},
		{"xfs minimum", &csi.CapacityRange{RequiredBytes: mib}, "xfs", 300 * mib, codes.OK},
		{"limit only", &csi.CapacityRange{LimitBytes: 100 * mib}, "ext4", 100 * mib, codes.OK},
		{"xfs minimum over limit", &csi.CapacityRange{RequiredBytes: mib, LimitBytes: 100 * mib}, "xfs", 0, codes.OutOfRange},
		{"rounding over limit", &csi.CapacityRange{RequiredBytes: 10*mib + 1, LimitBytes: 11 * mib}, "ext4", 0, codes.OutOfRange},
		{"block", &csi.CapacityRange{RequiredBytes: mib}, "", 4 * mib, codes.OK},
		{"zero: unset", &csi.CapacityRange{}, "ext4", gib, codes.OK},
		{"one byte", &csi.CapacityRange{RequiredBytes: 1}, "", 4 * mib, codes.OK},
		{"the largest volume", &csi.CapacityRange{RequiredBytes: storage.MaxVolumeBytes}, "", storage.MaxVolumeBytes, codes.OK},
		// Malformed or impossible whatever the driver: InvalidArgument.
		{"negative", &csi.CapacityRange{RequiredBytes: -1}, "ext4", 0, codes.InvalidArgument},
		{"negative limit", &csi.CapacityRange{LimitBytes: -1}, "ext4", 0, codes.InvalidArgument},
		{"required over limit", &csi.CapacityRange{RequiredBytes: 2 * gib, LimitBytes: gib}, "ext4", 0, codes.InvalidArgument},
		{"over the largest volume", &csi.CapacityRange{RequiredBytes: storage.MaxVolumeBytes + 1}, "", 0, codes.InvalidArgument},
		{"absurd", &csi.CapacityRange{RequiredBytes: 1<<63 - 1}, "ext4", 0, codes.InvalidArgument},
		{"absurd limit", &csi.CapacityRange{LimitBytes: 1<<63 - 1}, "ext4", 0, codes.InvalidArgument},
	}
	for _, tc := range cases {
		got, err := d.volumeSize(tc.r, tc.fs)
		if code(err) != tc.wantCode || got != tc.want {
			t.Errorf("%s: %d, %v; want %d, %v", tc.name, got, err, tc.want, tc.wantCode)
		}
	}
}

func TestVolumeID(t *testing.T) {
	d := LVMDriver("topolvm.io")
	if got := d.VolumeID("pvc-0123abcd"); got != "pvc-0123abcd" {
		t.Errorf("plain name changed: %s", got)
	}
	for _, n := range []string{"Sanity-CreateVolume-1234", strings.Repeat("a", 80), "snapshot-1", "a/b"} {
		id := d.VolumeID(n)
		if !plainName.MatchString(id) || len(id) > 64 || id != d.VolumeID(n) {
			t.Errorf("VolumeID(%q) = %q: not a stable short DNS label", n, id)
		}
	}
	if LVMDriver("topolvm.io").VolumeID("X") == BtrfsDriver("topols.io").VolumeID("X") {
		t.Error("two drivers map one name to the same ID")
	}
}

func TestCapabilities(t *testing.T) {
	lvm, ls := LVMDriver("topolvm.io"), BtrfsDriver("topols.io")
	block := &csi.VolumeCapability{AccessType: &csi.VolumeCapability_Block{Block: &csi.VolumeCapability_BlockVolume{}},
		AccessMode: &csi.VolumeCapability_AccessMode{Mode: csi.VolumeCapability_AccessMode_SINGLE_NODE_WRITER}}
	multi := mountCap("ext4")[0]
	multi.AccessMode.Mode = csi.VolumeCapability_AccessMode_MULTI_NODE_MULTI_WRITER
	if lvm.checkCapability(block) != "" || ls.checkCapability(block) == "" {
		t.Error("block: LVM yes, btrfs no")
	}
	if lvm.checkCapability(multi) == "" {
		t.Error("multi-node access accepted")
	}
	if lvm.checkCapability(mountCap("ntfs")[0]) == "" || ls.checkCapability(mountCap("ext4")[0]) == "" || ls.checkCapability(mountCap("")[0]) != "" {
		t.Error("filesystem checks wrong")
	}
	if lvm.checkCapability(nil) == "" || lvm.checkCapabilities(nil) == "" {
		t.Error("missing capability accepted")
	}
}

func TestCreateVolume(t *testing.T) {
	d := LVMDriver("topolvm.io")
	store := newMemStore()
	c := NewController(d, store, memCapacity{"n1": 5 * gib, "n2": 20 * gib})
	ctx := context.Background()
	req := &csi.CreateVolumeRequest{Name: "pvc-a", VolumeCapabilities: mountCap("xfs"), CapacityRange: &csi.CapacityRange{RequiredBytes: gib},
		Parameters: map[string]string{"topolvm.io/device-class": "ssd"}}

	resp, err := c.CreateVolume(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Volume.AccessibleTopology[0].Segments[d.TopologyKey]; got != "n2" {
		t.Errorf("Immediate binding chose %s, want n2 (most room)", got)
	}
	if store.lvs["pvc-a"].Spec.DeviceClass != "ssd" || resp.Volume.CapacityBytes != gib {
		t.Errorf("spec = %+v", store.lvs["pvc-a"].Spec)
	}
	if _, err := c.CreateVolume(ctx, req); err != nil {
		t.Errorf("idempotent repeat: %v", err)
	}
	other := proto.Clone(req).(*csi.CreateVolumeRequest)
	other.CapacityRange = &csi.CapacityRange{RequiredBytes: 2 * gib}
	if _, err := c.CreateVolume(ctx, other); code(err) != codes.AlreadyExists {
		t.Errorf("same name, other size: %v", err)
	}

	// Preferred topology first, then the requisite.
	pref := &csi.CreateVolumeRequest{Name: "pvc-b", VolumeCapabilities: mountCap("ext4"),
		AccessibilityRequirements: &csi.TopologyRequirement{
			Preferred: []*csi.Topology{{Segments: map[string]string{d.TopologyKey: "n1"}}},
			Requisite: []*csi.Topology{{Segments: map[string]string{d.TopologyKey: "n2"}}},
		}}
	resp, err = c.CreateVolume(ctx, pref)
	if err != nil || resp.Volume.AccessibleTopology[0].Segments[d.TopologyKey] != "n1" {
		t.Errorf("preferred node: %v, %v", resp, err)
	}

	// Every node in both lists, as csi-provisioner asks: each is named once.
	both := []*csi.Topology{{Segments: map[string]string{d.TopologyKey: "n2"}}, {Segments: map[string]string{d.TopologyKey: "n1"}}}
	_, err = c.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: "pvc-e", VolumeCapabilities: mountCap("ext4"), CapacityRange: &csi.CapacityRange{RequiredBytes: 100 * gib},
		AccessibilityRequirements: &csi.TopologyRequirement{Preferred: both, Requisite: both}})
	if code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "no node among n2, n1 has") {
		t.Errorf("no room on the listed nodes: %v", err)
	}

	tooBig := &csi.CreateVolumeRequest{Name: "pvc-c", VolumeCapabilities: mountCap("ext4"), CapacityRange: &csi.CapacityRange{RequiredBytes: 100 * gib}}
	if _, err := c.CreateVolume(ctx, tooBig); code(err) != codes.ResourceExhausted {
		t.Errorf("no room anywhere: %v", err)
	}

	// The node refuses: the code comes back and the object is deleted.
	store.answer = codes.ResourceExhausted
	if _, err := c.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: "pvc-d", VolumeCapabilities: mountCap("ext4")}); code(err) != codes.ResourceExhausted {
		t.Errorf("node refusal: %v", err)
	}
	if _, ok := store.lvs["pvc-d"]; ok {
		t.Error("refused LogicalVolume left behind")
	}

	for name, bad := range map[string]*csi.CreateVolumeRequest{
		"no name":        {VolumeCapabilities: mountCap("ext4")},
		"no caps":        {Name: "x"},
		"bad fs":         {Name: "x", VolumeCapabilities: mountCap("zfs")},
		"unknown param":  {Name: "x", VolumeCapabilities: mountCap("ext4"), Parameters: map[string]string{"topolvm.io/colour": "red"}},
		"foreign topo":   {Name: "x", VolumeCapabilities: mountCap("ext4"), AccessibilityRequirements: &csi.TopologyRequirement{Requisite: []*csi.Topology{{Segments: map[string]string{"zone": "a"}}}}},
		"missing source": {Name: "x", VolumeCapabilities: mountCap("ext4"), VolumeContentSource: &csi.VolumeContentSource{Type: &csi.VolumeContentSource_Volume{Volume: &csi.VolumeContentSource_VolumeSource{VolumeId: "nope"}}}},
	} {
		_, err := c.CreateVolume(ctx, bad)
		want := codes.InvalidArgument
		if name == "missing source" {
			want = codes.NotFound
		}
		if code(err) != want {
			t.Errorf("%s: %v, want %v", name, err, want)
		}
	}
}

func TestCloneLandsOnSourceNode(t *testing.T) {
	d := BtrfsDriver("topols.io")
	store := newMemStore()
	c := NewController(d, store, memCapacity{"n1": 5 * gib, "n2": 20 * gib})
	ctx := context.Background()
	src, err := c.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: "src", VolumeCapabilities: mountCap(""),
		AccessibilityRequirements: &csi.TopologyRequirement{Preferred: []*csi.Topology{{Segments: map[string]string{d.TopologyKey: "n1"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := c.CreateSnapshot(ctx, &csi.CreateSnapshotRequest{Name: "snap", SourceVolumeId: src.Volume.VolumeId})
	if err != nil || !snap.Snapshot.ReadyToUse {
		t.Fatalf("snapshot: %v, %v", snap, err)
	}
	restore, err := c.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: "restore", VolumeCapabilities: mountCap(""),
		VolumeContentSource: &csi.VolumeContentSource{Type: &csi.VolumeContentSource_Snapshot{Snapshot: &csi.VolumeContentSource_SnapshotSource{SnapshotId: snap.Snapshot.SnapshotId}}}})
	if err != nil {
		t.Fatal(err)
	}
	if n := restore.Volume.AccessibleTopology[0].Segments[d.TopologyKey]; n != "n1" {
		t.Errorf("restore on %s, want the source's node n1", n)
	}
	if lv := store.lvs["restore"]; lv.Spec.Source != store.lvs[snap.Snapshot.SnapshotId].Spec.Name || lv.Spec.AccessType != "rw" {
		t.Errorf("restore spec = %+v", lv.Spec)
	}
	list, err := c.ListSnapshots(ctx, &csi.ListSnapshotsRequest{SourceVolumeId: src.Volume.VolumeId})
	if err != nil || len(list.Entries) != 1 {
		t.Errorf("list snapshots: %v, %v", list, err)
	}
}
