package csi

import (
	"context"
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
)

// layoutCapacity holds figures by node, then class and options class, as
// the node annotations carry them.
type layoutCapacity map[string]map[[2]string]int64

func (m layoutCapacity) Available(_ context.Context, node, class, options string) (int64, error) {
	return m[node][[2]string{class, options}], nil
}

func (m layoutCapacity) Nodes(_ context.Context, class, options string) (map[string]int64, error) {
	out := map[string]int64{}
	for node, figs := range m {
		if v, ok := figs[[2]string{class, options}]; ok {
			out[node] = v
		}
	}
	return out, nil
}

// n1 has more free space, n2 more room for raid1 volumes (its second
// largest PV is larger, say).
var raidNodes = layoutCapacity{
	"n1": {{"", ""}: 100 * gib, {"ssd", ""}: 100 * gib, {"ssd", "raid1"}: 40 * gib},
	"n2": {{"", ""}: 60 * gib, {"ssd", ""}: 60 * gib, {"ssd", "raid1"}: 50 * gib},
}

func raidRequest(name string, size int64, options string, nodes ...string) *csi.CreateVolumeRequest {
	d := LVMDriver("topolvm.io")
	req := &csi.CreateVolumeRequest{Name: name, VolumeCapabilities: mountCap("ext4"), CapacityRange: &csi.CapacityRange{RequiredBytes: size},
		Parameters: map[string]string{d.Param(ParamDeviceClass): "ssd", d.Param(ParamOptionsClass): options}}
	if len(nodes) > 0 {
		ar := &csi.TopologyRequirement{}
		for _, n := range nodes {
			ar.Requisite = append(ar.Requisite, &csi.Topology{Segments: map[string]string{d.TopologyKey: n}})
		}
		ar.Preferred = ar.Requisite
		req.AccessibilityRequirements = ar
	}
	return req
}

// A volume made with an options class goes where its layout fits, by the
// options class's figure, not by free space: before, the 45 GiB raid1
// volume went to n1 (100 GiB free, room for a 40 GiB raid1 volume) and
// failed at lvcreate.
func TestCreateVolumePlacesByOptionsClassFigure(t *testing.T) {
	d := LVMDriver("topolvm.io")
	store := newMemStore()
	c := NewController(d, store, raidNodes)
	ctx := context.Background()

	resp, err := c.CreateVolume(ctx, raidRequest("pvc-a", 45*gib, "raid1"))
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Volume.AccessibleTopology[0].Segments[d.TopologyKey]; got != "n2" {
		t.Errorf("raid1 volume placed on %s, want n2 (the most room for raid1)", got)
	}
	if got := store.lvs["pvc-a"].Spec.OptionsClass; got != "raid1" {
		t.Errorf("LogicalVolume options class = %q", got)
	}

	// The node kube-scheduler chose cannot hold it in that layout: no
	// LogicalVolume is made, and csi-provisioner reschedules.
	_, err = c.CreateVolume(ctx, raidRequest("pvc-b", 45*gib, "raid1", "n1"))
	if code(err) != codes.ResourceExhausted {
		t.Errorf("raid1 on a node without room for it: %v, want ResourceExhausted", err)
	}
	if _, ok := store.lvs["pvc-b"]; ok || len(store.deleted) > 0 {
		t.Errorf("a LogicalVolume was made for a volume that does not fit (deleted: %v)", store.deleted)
	}
	// The same size without an options class fits there.
	if _, err := c.CreateVolume(ctx, raidRequest("pvc-c", 45*gib, "", "n1")); err != nil {
		t.Errorf("plain volume on n1: %v", err)
	}

	for name, req := range map[string]*csi.CreateVolumeRequest{
		"options class no node has": raidRequest("pvc-d", gib, "raid6"),
		"options class with a dot":  raidRequest("pvc-e", gib, "raid.1"),
	} {
		if _, err := c.CreateVolume(ctx, req); code(err) != codes.InvalidArgument {
			t.Errorf("%s: %v, want InvalidArgument", name, err)
		}
	}
}

// GetCapacity with the options class parameter answers the options class's
// figure: what csi-provisioner publishes in CSIStorageCapacity for such a
// StorageClass.
func TestGetCapacityOfOptionsClass(t *testing.T) {
	d := LVMDriver("topolvm.io")
	c := NewController(d, newMemStore(), raidNodes)
	ctx := context.Background()
	for _, tc := range []struct {
		options, node string
		want          int64
	}{
		{"raid1", "n1", 40 * gib},
		{"raid1", "", 50 * gib},
		{"", "n1", 100 * gib},
		{"raid6", "n1", 0},
	} {
		req := &csi.GetCapacityRequest{Parameters: map[string]string{d.Param(ParamDeviceClass): "ssd", d.Param(ParamOptionsClass): tc.options}}
		if tc.node != "" {
			req.AccessibleTopology = &csi.Topology{Segments: map[string]string{d.TopologyKey: tc.node}}
		}
		resp, err := c.GetCapacity(ctx, req)
		if err != nil || resp.AvailableCapacity != tc.want || resp.GetMaximumVolumeSize().GetValue() != tc.want {
			t.Errorf("GetCapacity(options %q, node %q) = %v, %v; want %d", tc.options, tc.node, resp, err, tc.want)
		}
	}
}
