package lvmd

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/toposuite/toposuite/internal/exec/exectest"
	"github.com/toposuite/toposuite/internal/storage"
	"github.com/toposuite/toposuite/lvmd/config"
	"github.com/toposuite/toposuite/lvmd/lvm"
)

// RAID images and stripes go on PVs of their own: these tests give lvmd
// VGs of several PVs with unequal free space, in the shape `lvm fullreport`
// prints (string values; the PV part's columns as lvmd asks for them).

const ext = 4 * mib // the VG's extent size

// pvReport is a fullreport of vg0 whose PVs have free extents free (the
// VG's free space is their sum) and whose LVs are lvs, owned by class ssd
// (name -> extents).
func pvReport(free []int64, attrs []string, lvs map[string]int64) string {
	var total int64
	var pvs, lvRows []string
	for i, f := range free {
		total += f
		attr := "a--"
		if attrs != nil {
			attr = attrs[i]
		}
		pvs = append(pvs, fmt.Sprintf(`{"pv_name":"/dev/sd%c", "pv_free":"%d", "pv_attr":"%s"}`, 'b'+i, f*ext, attr))
	}
	for name, n := range lvs {
		lvRows = append(lvRows, fmt.Sprintf(`{"lv_uuid":"u-%s", "lv_name":"%s", "lv_path":"/dev/vg0/%s", "lv_size":"%d", "origin":"", "origin_size":"", "pool_lv":"", "lv_tags":"toposuite.io/owned,toposuite.io/class=ssd", "data_percent":"", "metadata_percent":"", "lv_attr":"-wi-a-----"}`, name, name, name, n*ext))
	}
	return fmt.Sprintf(`{"report":[{
  "vg":[{"vg_uuid":"K8wIzf", "vg_name":"vg0", "vg_size":"%d", "vg_free":"%d", "vg_extent_size":"%d"}],
  "pv":[%s],
  "lv":[%s],
  "pvseg":[], "seg":[]}]}`, 4096*ext, total*ext, ext, strings.Join(pvs, ","), strings.Join(lvRows, ","))
}

func layoutConfig() *config.Config {
	zero := resource.MustParse("0")
	c := &config.Config{
		LVM: config.LVMSettings{Path: "lvm"},
		DeviceClasses: []config.DeviceClass{
			{Name: "ssd", VolumeGroup: "vg0", Default: true, Spare: &zero},
			{Name: "striped", VolumeGroup: "vg0", Spare: &zero, Stripes: 3},
		},
		LvcreateOptionClasses: []config.OptionClass{
			{Name: "raid1", Options: []string{"--type=raid1", "-m", "1"}},
			{Name: "raid5", Options: []string{"--type raid5", "-i2"}},
			{Name: "raid10", Options: []string{"--type=raid10", "-i2", "-m1"}},
			{Name: "stripe2", Options: []string{"--type=striped", "-i2"}},
		},
	}
	c.Default()
	return c
}

// newLayoutBackend starts lvmd on the report rep, then the script steps.
func newLayoutBackend(t *testing.T, rep string, steps ...exectest.Step) *Backend {
	t.Helper()
	s := exectest.New(t,
		exectest.Step{Cmd: activationCmd, Stdout: "activation=1\n"},
		exectest.Step{Cmd: reportCmd, Stdout: rep},
	)
	s.Add(steps...)
	b, err := New(context.Background(), layoutConfig(), lvm.New(s, "lvm"), nil, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// figures returns the class's largest volume without an options class
// ("") and with each options class, in extents.
func figures(t *testing.T, b *Backend, class string) map[string]int64 {
	t.Helper()
	cc := classCap(t, b.Capacity(), class)
	out := map[string]int64{"": cc.AvailableBytes / ext}
	for name, n := range cc.OptionsClassAvailable {
		if n%ext != 0 {
			t.Errorf("class %s, options class %s: %d bytes is not whole extents", class, name, n)
		}
		out[name] = n / ext
	}
	return out
}

func wantFigures(t *testing.T, what string, got map[string]int64, want map[string]int64) {
	t.Helper()
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %q = %d extents, want %d (all: %v)", what, k, got[k], w, got)
		}
	}
}

const (
	createR1 = "lvm lvcreate -y -n r1 -L 167772160b --type=raid1 -m 1 --addtag toposuite.io/owned --addtag toposuite.io/class=ssd --addtag toposuite.io/options-class=raid1 vg0"
	removeR1 = "lvm lvremove -y -S 'lv_name=r1 && lv_tags=toposuite.io/class=ssd' vg0"
)

// A raid1 volume's two images need two PVs: on a VG of one big and one
// small PV, the small one bounds it, not half the VG's free space. Before
// per-PV figures lvmd promised 549 extents here, and lvcreate failed.
func TestRAID1BoundedBySecondPV(t *testing.T) {
	b := newLayoutBackend(t, pvReport([]int64{1000, 100}, nil, nil),
		exectest.Step{Cmd: createR1, Stdout: "  Logical volume \"r1\" created.\n"},
		exectest.Step{Cmd: removeR1, Stdout: "  Logical volume \"r1\" successfully removed.\n"},
	)
	// Each image takes its data and one metadata extent: 99 + 1 on the small PV.
	wantFigures(t, "from the report", figures(t, b, "ssd"), map[string]int64{"": 1100, "raid1": 99, "raid5": 0, "raid10": 0})

	// r1 takes 41 extents on each of two PVs LVM chose; until the next
	// report lvmd assumes the worst: all 82 from the small PV.
	ctx := context.Background()
	if _, err := b.CreateVolume(ctx, storage.CreateRequest{Name: "r1", Class: "ssd", SizeBytes: 40 * ext, OptionsClass: "raid1"}); err != nil {
		t.Fatal(err)
	}
	wantFigures(t, "after a raid1 create", figures(t, b, "ssd"), map[string]int64{"": 1018, "raid1": 17})

	// Removing it gives back exactly what it took.
	if err := b.RemoveVolume(ctx, "ssd", "r1", storage.Claim{}); err != nil {
		t.Fatal(err)
	}
	wantFigures(t, "after its removal", figures(t, b, "ssd"), map[string]int64{"": 1100, "raid1": 99})
}

// A removal of a volume of the report frees extents on PVs lvmd cannot
// name: the VG's free space grows at once, the room per PV at the next
// report.
func TestRemovalOfReportedVolumeGrowsPVRoomAtNextReport(t *testing.T) {
	removeOld := "lvm lvremove -y -S 'lv_name=old && lv_tags=toposuite.io/class=ssd' vg0"
	b := newLayoutBackend(t, pvReport([]int64{1000, 100}, nil, map[string]int64{"old": 50}),
		exectest.Step{Cmd: removeOld, Stdout: "  Logical volume \"old\" successfully removed.\n"},
		exectest.Step{Cmd: reportCmd, Stdout: pvReport([]int64{1000, 150}, nil, nil)},
	)
	if err := b.RemoveVolume(context.Background(), "ssd", "old", storage.Claim{}); err != nil {
		t.Fatal(err)
	}
	wantFigures(t, "after the removal", figures(t, b, "ssd"), map[string]int64{"": 1150, "raid1": 99})
	if _, err := b.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantFigures(t, "after the next report", figures(t, b, "ssd"), map[string]int64{"": 1150, "raid1": 149})
}

// raid5 over 2 data stripes has 3 images (2 data, 1 parity) of half the
// volume each, on 3 PVs: the third largest PV bounds them.
func TestRAID5OnThreePVs(t *testing.T) {
	b := newLayoutBackend(t, pvReport([]int64{300, 200, 100}, nil, nil))
	// 99 data extents + 1 metadata extent per image, times 2 data stripes.
	// Before per-PV figures: 398, by the VG's 600 free extents alone.
	wantFigures(t, "3 PVs", figures(t, b, "ssd"), map[string]int64{"": 600, "raid5": 198, "raid1": 199, "raid10": 0})

	b = newLayoutBackend(t, pvReport([]int64{300, 200}, nil, nil))
	wantFigures(t, "2 PVs", figures(t, b, "ssd"), map[string]int64{"raid5": 0})
}

// A striped class of 3 stripes puts a third of each volume on each of 3
// PVs: the third largest PV's free space, times 3, not the VG's free space.
func TestStripedClassOnUnequalPVs(t *testing.T) {
	b := newLayoutBackend(t, pvReport([]int64{500, 300, 120}, nil, nil))
	wantFigures(t, "striped class", figures(t, b, "striped"), map[string]int64{"": 360, "stripe2": 600})
	// raid1 on a striped class is still raid1 (the options class decides).
	wantFigures(t, "plain class", figures(t, b, "ssd"), map[string]int64{"": 920, "stripe2": 600, "raid1": 299})
}

// A PV LVM may not allocate from holds no image.
func TestUnallocatablePVHoldsNoImage(t *testing.T) {
	b := newLayoutBackend(t, pvReport([]int64{1000, 400, 100}, []string{"a--", "---", "a--"}, nil))
	wantFigures(t, "one PV unallocatable", figures(t, b, "ssd"), map[string]int64{"raid1": 99})
}

// A create in flight holds its reservation on PVs it may take: the room
// per PV shrinks before lvcreate returns.
func TestReservationShrinksPVRoom(t *testing.T) {
	g := &gated{Runner: exectest.New(t,
		exectest.Step{Cmd: activationCmd, Stdout: "activation=1\n"},
		exectest.Step{Cmd: reportCmd, Stdout: pvReport([]int64{1000, 100}, nil, nil)},
		exectest.Step{Cmd: createR1, Stdout: "  Logical volume \"r1\" created.\n"},
	), cmd: createR1}
	b, err := New(context.Background(), layoutConfig(), lvm.New(g, "lvm"), nil, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	g.gate, g.entered = make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() {
		_, err := b.CreateVolume(context.Background(), storage.CreateRequest{Name: "r1", Class: "ssd", SizeBytes: 40 * ext, OptionsClass: "raid1"})
		done <- err
	}()
	<-g.entered
	wantFigures(t, "during the create", figures(t, b, "ssd"), map[string]int64{"": 1018, "raid1": 17})
	close(g.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	wantFigures(t, "after the create", figures(t, b, "ssd"), map[string]int64{"": 1018, "raid1": 17})
}

func TestLegRoom(t *testing.T) {
	for _, c := range []struct {
		free       []int64
		legs       int
		used, want int64
	}{
		{[]int64{10, 5}, 2, 0, 5},
		{[]int64{10, 5}, 3, 0, 0},
		{[]int64{10, 5}, 2, 3, 2},
		{[]int64{10, 5}, 2, 5, 0},
		{[]int64{10, 5}, 1, 4, 6},   // the worst takes 4 from the 10
		{[]int64{9, 6, 6}, 2, 3, 5}, // the 9 stays; the 6s go down together
		{[]int64{9, 6, 6}, 2, 100, 0},
		{[]int64{9, 6, 6, 1}, 2, 4, 4},
	} {
		if got := legRoom(c.free, c.legs, c.used); got != c.want {
			t.Errorf("legRoom(%v, %d legs, %d used) = %d, want %d", c.free, c.legs, c.used, got, c.want)
		}
	}
}
