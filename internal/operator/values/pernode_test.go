package values

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/toposuite/toposuite/internal/api/operator/v1alpha1"
	"github.com/toposuite/toposuite/internal/operator/report"
)

const gi = int64(1) << 30

func q(s string) *resource.Quantity { v := resource.MustParse(s); return &v }
func ptr[T any](v T) *T             { return &v }

// TestResolveDevices: which devices a node's report gives each volume group
// with a selector.
func TestResolveDevices(t *testing.T) {
	ssd := report.Device{Path: "/dev/sdb", Size: 100 * gi, Model: "Samsung SSD 870", ByID: []string{"/dev/disk/by-id/ata-Samsung_SSD_870_S1"}}
	hdd := report.Device{Path: "/dev/sdc", Size: 4000 * gi, Rotational: true, Model: "ST4000NM", ByID: []string{"/dev/disk/by-id/ata-ST4000NM_Z1"}}
	nvme := report.Device{Path: "/dev/nvme0n1", Size: 500 * gi, Model: "Samsung 980", ByID: []string{"/dev/disk/by-id/nvme-Samsung_980_X"}}
	small := report.Device{Path: "/dev/sdd", Size: 512 << 20}
	for _, c := range []struct {
		name  string
		vgs   []v1alpha1.VolumeGroup
		pools []v1alpha1.Pool
		r     report.NodeReport
		want  map[string][]string
		empty []string
	}{{
		name: "by rotational",
		vgs:  []v1alpha1.VolumeGroup{{Name: "vg", DeviceSelector: &v1alpha1.DeviceSelector{Rotational: ptr(false)}}},
		r:    report.NodeReport{Discovered: []report.Device{ssd, hdd, nvme}},
		want: map[string][]string{"vg": {"/dev/nvme0n1", "/dev/sdb"}},
	}, {
		name: "by size range",
		vgs:  []v1alpha1.VolumeGroup{{Name: "vg", DeviceSelector: &v1alpha1.DeviceSelector{MinSize: q("200Gi"), MaxSize: q("1Ti")}}},
		r:    report.NodeReport{Discovered: []report.Device{ssd, hdd, nvme}},
		want: map[string][]string{"vg": {"/dev/nvme0n1"}},
	}, {
		name: "by model glob",
		vgs:  []v1alpha1.VolumeGroup{{Name: "vg", DeviceSelector: &v1alpha1.DeviceSelector{Model: "Samsung*"}}},
		r:    report.NodeReport{Discovered: []report.Device{ssd, hdd, nvme}},
		want: map[string][]string{"vg": {"/dev/nvme0n1", "/dev/sdb"}},
	}, {
		name: "by by-id base name",
		vgs:  []v1alpha1.VolumeGroup{{Name: "vg", DeviceSelector: &v1alpha1.DeviceSelector{ByIDPattern: "ata-*"}}},
		r:    report.NodeReport{Discovered: []report.Device{ssd, hdd, nvme}},
		want: map[string][]string{"vg": {"/dev/sdb", "/dev/sdc"}},
	}, {
		name: "every criterion must match",
		vgs:  []v1alpha1.VolumeGroup{{Name: "vg", DeviceSelector: &v1alpha1.DeviceSelector{ByIDPattern: "ata-*", Rotational: ptr(true)}}},
		r:    report.NodeReport{Discovered: []report.Device{ssd, hdd, nvme}},
		want: map[string][]string{"vg": {"/dev/sdc"}},
	}, {
		name:  "below minDeviceSize (default 1Gi) never selected",
		vgs:   []v1alpha1.VolumeGroup{{Name: "vg", DeviceSelector: &v1alpha1.DeviceSelector{Rotational: ptr(false)}}},
		r:     report.NodeReport{Discovered: []report.Device{small}},
		empty: []string{"vg"},
	}, {
		name: "a lower minDeviceSize lets it in",
		vgs:  []v1alpha1.VolumeGroup{{Name: "vg", MinDeviceSize: q("256Mi"), DeviceSelector: &v1alpha1.DeviceSelector{Rotational: ptr(false)}}},
		r:    report.NodeReport{Discovered: []report.Device{small}},
		want: map[string][]string{"vg": {"/dev/sdd"}},
	}, {
		name: "members kept, sorted with the new ones; listed devices first",
		vgs: []v1alpha1.VolumeGroup{{Name: "vg", Devices: []string{"/dev/xvdz"},
			DeviceSelector: &v1alpha1.DeviceSelector{Rotational: ptr(false)}}},
		r: report.NodeReport{Discovered: []report.Device{ssd},
			VolumeGroups: []report.VolumeGroup{{Name: "vg", Devices: []string{"/dev/xvdz", "/dev/sdz", "/dev/sda"}}}},
		want: map[string][]string{"vg": {"/dev/xvdz", "/dev/sda", "/dev/sdb", "/dev/sdz"}},
	}, {
		name: "a device listed by by-id elsewhere in the group is not selected",
		vgs: []v1alpha1.VolumeGroup{
			{Name: "listed", Devices: []string{"/dev/disk/by-id/ata-Samsung_SSD_870_S1"}},
			{Name: "vg", DeviceSelector: &v1alpha1.DeviceSelector{MinSize: q("1Gi")}}},
		pools: []v1alpha1.Pool{{Name: "fs", Devices: []string{"/dev/nvme0n1"}}},
		r:     report.NodeReport{Discovered: []report.Device{ssd, hdd, nvme}},
		want:  map[string][]string{"vg": {"/dev/sdc"}},
	}, {
		name: "two selectors: the first volume group takes a device both match",
		vgs: []v1alpha1.VolumeGroup{
			{Name: "a", DeviceSelector: &v1alpha1.DeviceSelector{Model: "Samsung*"}},
			{Name: "b", DeviceSelector: &v1alpha1.DeviceSelector{Rotational: ptr(false)}}},
		r:     report.NodeReport{Discovered: []report.Device{ssd, nvme}},
		want:  map[string][]string{"a": {"/dev/nvme0n1", "/dev/sdb"}},
		empty: []string{"b"},
	}, {
		name: "another volume group's members are never taken",
		vgs:  []v1alpha1.VolumeGroup{{Name: "vg", DeviceSelector: &v1alpha1.DeviceSelector{Rotational: ptr(false)}}},
		r: report.NodeReport{Discovered: []report.Device{ssd},
			VolumeGroups: []report.VolumeGroup{{Name: "other", Devices: []string{"/dev/sdb"}}}},
		empty: []string{"vg"},
	}, {
		name:  "no report content: nothing",
		vgs:   []v1alpha1.VolumeGroup{{Name: "vg", DeviceSelector: &v1alpha1.DeviceSelector{Rotational: ptr(false)}}, {Name: "static", Devices: []string{"/dev/sdx"}}},
		empty: []string{"vg"},
	}} {
		t.Run(c.name, func(t *testing.T) {
			g := &v1alpha1.NodeGroup{Name: "g", VolumeGroups: c.vgs, Pools: c.pools}
			got, empty := ResolveDevices(g, &c.r)
			if c.want == nil {
				c.want = map[string][]string{}
			}
			if d := cmp.Diff(c.want, got); d != "" {
				t.Errorf("devices (-want +got):\n%s", d)
			}
			if d := cmp.Diff(c.empty, empty); d != "" {
				t.Errorf("volume groups without devices (-want +got):\n%s", d)
			}
		})
	}
}

// TestResolveDevicesStable: a selected device that joined the volume group
// (reported as a member, no longer discovered) leaves the list as it was,
// so the configuration and the DaemonSet stay the same.
func TestResolveDevicesStable(t *testing.T) {
	g := &v1alpha1.NodeGroup{Name: "g", VolumeGroups: []v1alpha1.VolumeGroup{
		{Name: "vg", DeviceSelector: &v1alpha1.DeviceSelector{MinSize: q("1Gi")}}}}
	before := report.NodeReport{
		Discovered:   []report.Device{{Path: "/dev/sdc", Size: 10 * gi}},
		VolumeGroups: []report.VolumeGroup{{Name: "vg", Devices: []string{"/dev/sdb", "/dev/sdd"}}},
	}
	after := report.NodeReport{
		VolumeGroups: []report.VolumeGroup{{Name: "vg", Devices: []string{"/dev/sdd", "/dev/sdc", "/dev/sdb"}}},
	}
	b, _ := ResolveDevices(g, &before)
	a, _ := ResolveDevices(g, &after)
	if d := cmp.Diff(b, a); d != "" {
		t.Errorf("devices changed once the selected device joined (-before +after):\n%s", d)
	}
}

func TestCheckSelector(t *testing.T) {
	for _, c := range []struct {
		s    v1alpha1.DeviceSelector
		want string
	}{
		{v1alpha1.DeviceSelector{MinSize: q("1Gi"), MaxSize: q("2Gi"), Model: "ST[0-9]*", ByIDPattern: `ata-\*`}, ""},
		{v1alpha1.DeviceSelector{MinSize: q("-1")}, "minSize -1 is negative"},
		{v1alpha1.DeviceSelector{MaxSize: q("0")}, "maxSize 0 is not positive"},
		{v1alpha1.DeviceSelector{MinSize: q("2Gi"), MaxSize: q("1Gi")}, "minSize 2Gi is above maxSize 1Gi"},
		{v1alpha1.DeviceSelector{Model: "[a-]"}, `model "[a-]": syntax error in pattern`},
		{v1alpha1.DeviceSelector{ByIDPattern: `x\`}, `byIDPattern "x\\": syntax error in pattern`},
	} {
		err := checkSelector(&c.s)
		if (err == nil) != (c.want == "") || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("checkSelector(%+v) = %v, want %q", c.s, err, c.want)
		}
	}
}

// TestPerNodeReleases: one release per node of the group with a report and
// devices, pinned to it; the others unresolved with the reason.
func TestPerNodeReleases(t *testing.T) {
	spec := &v1alpha1.TopolvmClusterSpec{
		Components: v1alpha1.Components{LVM: v1alpha1.Driver{Enabled: true}},
		NodeGroups: []v1alpha1.NodeGroup{{
			Name: "ssd", NodeSelector: map[string]string{"disk": "ssd"},
			VolumeGroups: []v1alpha1.VolumeGroup{{Name: "vg", WipePolicy: v1alpha1.WipeSignatures,
				DeviceSelector: &v1alpha1.DeviceSelector{Rotational: ptr(false)}}},
			DeviceClasses: []v1alpha1.DeviceClass{{Name: "fast", VolumeGroup: "vg", Default: true}},
		}},
	}
	ssdNode := func(name string, r *report.NodeReport) Node {
		return Node{Name: name, Labels: map[string]string{"disk": "ssd"}, Report: r}
	}
	nodes := []Node{
		ssdNode("n2", &report.NodeReport{Discovered: []report.Device{{Path: "/dev/sdb", Size: 10 * gi}}}),
		ssdNode("n1", &report.NodeReport{Discovered: []report.Device{{Path: "/dev/sdc", Size: 10 * gi}}}),
		ssdNode("n3", nil),
		ssdNode("n4", &report.NodeReport{Discovered: []report.Device{{Path: "/dev/sdd", Size: 10 * gi, Rotational: true}}}),
		{Name: "other", Labels: map[string]string{"disk": "hdd"}},
	}
	rels, unresolved, err := Releases(spec, nodes)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rels {
		names = append(names, r.Name)
	}
	want := []string{"topolvm", NodeReleaseName("topolvm", "ssd", "n1"), NodeReleaseName("topolvm", "ssd", "n2")}
	if d := cmp.Diff(want, names); d != "" {
		t.Fatalf("releases (-want +got):\n%s", d)
	}
	n1 := rels[1].Values
	if d := cmp.Diff(nodeAffinity("n1"), n1["node"].(map[string]any)["affinity"]); d != "" {
		t.Errorf("n1's affinity (-want +got):\n%s", d)
	}
	vg := n1["lvmd"].(map[string]any)["config"].(map[string]any)["volumeGroups"].([]any)[0].(map[string]any)
	if d := cmp.Diff(map[string]any{"name": "vg", "devices": []any{"/dev/sdc"}}, vg); d != "" {
		t.Errorf("n1's volume group (-want +got; a selected device is never under wipe):\n%s", d)
	}
	var reasons []string
	for _, u := range unresolved {
		reasons = append(reasons, u.Node+" "+u.Reason)
	}
	if d := cmp.Diff([]string{"n3 " + v1alpha1.ReasonWaitingForReport, "n4 " + v1alpha1.ReasonNoDeviceSelected}, reasons); d != "" {
		t.Errorf("unresolved nodes (-want +got):\n%s", d)
	}

	// A bad selector is refused with the group and volume group named.
	spec.NodeGroups[0].VolumeGroups[0].DeviceSelector.MinSize = q("-1")
	if _, _, err := Releases(spec, nodes); err == nil || !strings.Contains(err.Error(), "node group ssd, volume group vg, deviceSelector: minSize -1 is negative") {
		t.Errorf("got %v", err)
	}
}
