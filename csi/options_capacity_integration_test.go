//go:build integration

package csi_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"github.com/go-logr/logr/testr"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	mount "k8s.io/mount-utils"
	utilexec "k8s.io/utils/exec"
	"sigs.k8s.io/controller-runtime/pkg/client"

	topocsi "github.com/toposuite/toposuite/csi"
	v1 "github.com/toposuite/toposuite/internal/api/topolvm/v1"
	"github.com/toposuite/toposuite/internal/daemon"
	"github.com/toposuite/toposuite/internal/nodeplugin"
	"github.com/toposuite/toposuite/internal/testutil"
	"github.com/toposuite/toposuite/lvmd"
	lvmconfig "github.com/toposuite/toposuite/lvmd/config"
)

// End to end on a real API server, a real lvmd and a VG of one big and one
// small PV: the node publishes the options classes' figures, bounded by
// the small PV; GetCapacity answers them; a volume that does not fit its
// layout gets ResourceExhausted before any LogicalVolume exists, though
// the VG's free space would hold it. (RAID cannot be created on a machine
// without device-mapper, so no raid1 volume is made; striped volumes can be,
// in LVM's metadata-only mode.)
func TestIntegrationOptionsClassCapacity(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTools(t, "lvm")
	dir := testutil.Dir(t)
	big, small := testutil.LoopDevice(t, dir, 1<<30), testutil.LoopDevice(t, dir, 256<<20)
	env := testutil.NewLVMEnv(t, big, small)
	vg := testutil.UniqueName("csivg")
	env.VG(t, vg, big, small)
	zero := resource.MustParse("0")
	cfg := &lvmconfig.Config{
		LVM:           lvmconfig.LVMSettings{Path: "lvm", Env: env.EnvMap()},
		DeviceClasses: []lvmconfig.DeviceClass{{Name: "ssd", VolumeGroup: vg, Default: true, Spare: &zero}},
		LvcreateOptionClasses: []lvmconfig.OptionClass{
			{Name: "raid1", Options: []string{"--type=raid1", "-m", "1"}},
			{Name: "stripe2", Options: []string{"--type=striped", "-i", "2"}},
		},
	}
	cfg.Default()
	d := topocsi.LVMDriver("topolvm.io")
	start := func(ctx context.Context) (*daemon.Instance, error) {
		return lvmd.Start(ctx, cfg, testr.NewWithInterface(t, testr.Options{}).WithName("lvmd"))
	}
	pub := topocsi.NewDevicePublisher(&mount.SafeFormatAndMount{Interface: mount.New(""), Exec: utilexec.New()}, "ext4")
	p := startPlugins(t, d, func(o *nodeplugin.Options) { o.Embedded = start }, pub)
	ctx := context.Background()

	const ext = 4 * mib
	pvFree := func(dev string) int64 {
		out := env.LVM(t, "pvs", "--noheadings", "--units", "b", "--nosuffix", "-o", "pv_free", dev)
		n, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
		if err != nil {
			t.Fatalf("pv_free of %s: %q", dev, out)
		}
		return n
	}
	smallFree, vgFree := pvFree(small), pvFree(big)+pvFree(small)
	want := map[string]int64{
		"capacity.topolvm.io/ssd":                     vgFree,
		"options-capacity.topolvm.io/ssd.raid1":       smallFree - ext, // an image and its metadata extent on the small PV
		"options-capacity.topolvm.io/00default.raid1": smallFree - ext,
		"options-capacity.topolvm.io/ssd.stripe2":     2 * smallFree, // a stripe on each PV
	}
	annotations := func() map[string]string {
		var n corev1.Node
		if err := p.c.Get(ctx, client.ObjectKey{Name: nodeName}, &n); err != nil {
			t.Fatal(err)
		}
		return n.Annotations
	}
	shows := func(key string, v int64) bool { return annotations()[key] == strconv.FormatInt(v, 10) }
	for key, v := range want {
		testutil.Eventually(t, key+"="+strconv.FormatInt(v, 10), func() bool { return shows(key, v) })
	}
	if raid1 := want["options-capacity.topolvm.io/ssd.raid1"]; raid1 >= vgFree/4 {
		t.Fatalf("the rig does not show the point: raid1 room %d, half the VG %d", raid1, vgFree/2)
	}

	params := func(options string) map[string]string {
		return map[string]string{d.Param(topocsi.ParamDeviceClass): "ssd", d.Param(topocsi.ParamOptionsClass): options}
	}
	for options, v := range map[string]int64{"": vgFree, "raid1": smallFree - ext, "stripe2": 2 * smallFree} {
		resp, err := p.ctl.GetCapacity(ctx, &csi.GetCapacityRequest{Parameters: params(options),
			AccessibleTopology: &csi.Topology{Segments: map[string]string{d.TopologyKey: nodeName}}})
		if err != nil || resp.AvailableCapacity != v {
			t.Errorf("GetCapacity(options %q) = %v, %v; want %d", options, resp, err, v)
		}
	}

	// Half the VG's free space would hold this raid1 volume; its second
	// image would not fit the small PV.
	tooBig := &csi.CreateVolumeRequest{Name: "pvc-raid", VolumeCapabilities: []*csi.VolumeCapability{blockCap()}, Parameters: params("raid1"),
		CapacityRange: &csi.CapacityRange{RequiredBytes: smallFree + 64*mib}, AccessibilityRequirements: p.topology()}
	if _, err := p.ctl.CreateVolume(ctx, tooBig); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("raid1 volume past the small PV: %v, want ResourceExhausted", err)
	}
	var lvs v1.LogicalVolumeList
	if err := p.c.List(ctx, &lvs); err != nil || len(lvs.Items) != 0 {
		t.Errorf("LogicalVolumes after a refused create: %d, %v; want none", len(lvs.Items), err)
	}

	// A striped volume that fills the small PV is made; then the node has
	// no room for another, and says so before any LogicalVolume is made.
	striped := &csi.CreateVolumeRequest{Name: "pvc-striped", VolumeCapabilities: []*csi.VolumeCapability{blockCap()}, Parameters: params("stripe2"),
		CapacityRange: &csi.CapacityRange{RequiredBytes: 2 * smallFree}, AccessibilityRequirements: p.topology()}
	if _, err := p.ctl.CreateVolume(ctx, striped); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "no room for stripe2 published", func() bool { return shows("options-capacity.topolvm.io/ssd.stripe2", 0) })
	if !shows("capacity.topolvm.io/ssd", vgFree-2*smallFree) {
		t.Errorf("plain figure %s, want %d", annotations()["capacity.topolvm.io/ssd"], vgFree-2*smallFree)
	}
	more := &csi.CreateVolumeRequest{Name: "pvc-striped-2", VolumeCapabilities: []*csi.VolumeCapability{blockCap()}, Parameters: params("stripe2"),
		CapacityRange: &csi.CapacityRange{RequiredBytes: 8 * mib}, AccessibilityRequirements: p.topology()}
	if _, err := p.ctl.CreateVolume(ctx, more); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("second striped volume: %v, want ResourceExhausted", err)
	}
	if err := p.c.List(ctx, &lvs); err != nil || len(lvs.Items) != 1 {
		t.Errorf("LogicalVolumes: %d, %v; want only the first striped one", len(lvs.Items), err)
	}
	if _, err := p.ctl.DeleteVolume(ctx, &csi.DeleteVolumeRequest{VolumeId: "pvc-striped"}); err != nil {
		t.Fatal(err)
	}
	p.lvGone(t, "pvc-striped")
}
