package lvmd

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/toposuite/toposuite/internal/exec"
	"github.com/toposuite/toposuite/internal/exec/exectest"
	"github.com/toposuite/toposuite/internal/storage"
	"github.com/toposuite/toposuite/lvmd/config"
	"github.com/toposuite/toposuite/lvmd/lvm"
)

// These tests run lvmd over a scripted runner fed with the text LVM prints,
// for what this machine cannot run: thin pools, snapshots and RAID.

const (
	mib = int64(1) << 20
	gib = int64(1) << 30

	activationCmd = "lvm config --typeconfig full global/activation"
	reportCmd     = "lvm fullreport --configreport vg -o vg_name,vg_uuid,vg_size,vg_free,vg_extent_size --configreport lv -o lv_name,lv_uuid,lv_size,lv_attr,lv_path,lv_tags,pool_lv,origin,origin_size,data_percent,metadata_percent --configreport pv -o pv_name,pv_free,pv_attr --configreport pvseg -o pvseg_start --configreport seg -o segtype --reportformat json --units b --nosuffix vg0"
	warnStderr    = "  WARNING: Sum of all thin volume sizes (3.00 GiB) exceeds the size of thin pool vg0/pool (2.00 GiB).\n"
)

func testConfig() *config.Config {
	zero := resource.MustParse("0")
	c := &config.Config{
		LVM: config.LVMSettings{Path: "lvm"},
		DeviceClasses: []config.DeviceClass{
			{Name: "ssd", VolumeGroup: "vg0", Default: true, Spare: &zero},
			{Name: "thin", VolumeGroup: "vg0", Type: config.TypeThin, ThinPool: &config.ThinPool{Name: "pool", OverprovisionRatio: 3}},
		},
		LvcreateOptionClasses: []config.OptionClass{
			{Name: "raid1", Options: []string{"--type=raid1", "-m", "1"}},
			{Name: "raid5", Options: []string{"--type raid5", "-i2"}},
		},
	}
	c.Default()
	return c
}

func report(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("testdata/fullreport-thin.json")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func newScripted(t *testing.T, steps ...exectest.Step) (*Backend, *exectest.Script) {
	t.Helper()
	return newScriptedWith(t, testConfig(), steps...)
}

// newScriptedWith is newScripted with another config than testConfig.
func newScriptedWith(t *testing.T, cfg *config.Config, steps ...exectest.Step) (*Backend, *exectest.Script) {
	t.Helper()
	s := exectest.New(t,
		exectest.Step{Cmd: activationCmd, Stdout: "activation=1\n"},
		exectest.Step{Cmd: reportCmd, Stdout: report(t)},
	)
	s.Add(steps...)
	b, err := New(context.Background(), cfg, lvm.New(s, "lvm"), nil, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	return b, s
}

func classCap(t *testing.T, c storage.Capacity, name string) storage.ClassCapacity {
	t.Helper()
	for _, cc := range c {
		if cc.Name == name {
			return cc
		}
	}
	t.Fatalf("no class %q in %v", name, c)
	return storage.ClassCapacity{}
}

func TestThinCapacityFromReport(t *testing.T) {
	b, _ := newScripted(t)
	got := classCap(t, b.Capacity(), "thin")
	// ratio 3 x 2 GiB pool minus 2 GiB of thin volumes (owned or not).
	want := storage.ClassCapacity{
		Name: "thin", SizeBytes: 2 * gib, AvailableBytes: 4 * gib,
		ThinPool: &storage.ThinPool{Name: "pool", SizeBytes: 2 * gib, DataPercent: 12.5, MetadataPercent: 10.81, OverprovisionRatio: 3, VirtualBytes: 2 * gib},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("thin capacity (-want +got):\n%s", d)
	}
	thick := classCap(t, b.Capacity(), "ssd")
	if thick.AvailableBytes != 8418033664 || !thick.Default {
		t.Errorf("thick capacity = %+v", thick)
	}
}

func TestThinCreateCommandAndAccounting(t *testing.T) {
	b, s := newScripted(t, exectest.Step{
		Cmd:    "lvm lvcreate -y -n vol1 -V 1073741824b --thinpool pool --addtag toposuite.io/owned --addtag toposuite.io/class=thin vg0",
		Stdout: "  Logical volume \"vol1\" created.\n", Stderr: warnStderr,
	})
	v, err := b.CreateVolume(context.Background(), storage.CreateRequest{Name: "vol1", Class: "thin", SizeBytes: gib})
	if err != nil {
		t.Fatalf("%v\n%s", err, exectest.Lines(s.Calls()))
	}
	if v.SizeBytes != gib || v.Path != "/dev/vg0/vol1" {
		t.Errorf("volume = %+v", v)
	}
	if got := classCap(t, b.Capacity(), "thin").AvailableBytes; got != 3*gib {
		t.Errorf("thin available after 1 GiB create = %d, want 3 GiB", got)
	}
	// Overprovision limit: 3 GiB left, 4 GiB asked; the existence check runs first.
	s.Add(exectest.Step{
		Cmd:      "lvm lvs -o " + lvFieldsForTest + " --reportformat json --units b --nosuffix vg0/vol2",
		ExitCode: 5, Stderr: "  Failed to find logical volume \"vg0/vol2\"\n",
	})
	_, err = b.CreateVolume(context.Background(), storage.CreateRequest{Name: "vol2", Class: "thin", SizeBytes: 4 * gib})
	if !errors.Is(err, storage.ErrNoSpace) {
		t.Errorf("err = %v, want ErrNoSpace", err)
	}
}

const lvFieldsForTest = "lv_name,vg_name,lv_uuid,lv_size,lv_attr,lv_path,lv_tags,pool_lv,origin,origin_size,data_percent,metadata_percent,segtype"

func TestThinSnapshotReadOnlyAndWritable(t *testing.T) {
	lvsThin1 := `{"report":[{"lv":[{"lv_name":"thin1","vg_name":"vg0","lv_uuid":"a8XlpL","lv_size":"1073741824","lv_attr":"Vwi-aotz--","lv_path":"/dev/vg0/thin1","lv_tags":"toposuite.io/owned,toposuite.io/class=thin","pool_lv":"pool","origin":"","origin_size":"","data_percent":"25.00","metadata_percent":"","segtype":"thin"}]}]}`
	notFound := func(name string) exectest.Step {
		return exectest.Step{
			Cmd:      "lvm lvs -o " + lvFieldsForTest + " --reportformat json --units b --nosuffix vg0/" + name,
			ExitCode: 5, Stderr: "  Failed to find logical volume \"vg0/" + name + "\"\n",
		}
	}
	lvsSrc := exectest.Step{Cmd: "lvm lvs -o " + lvFieldsForTest + " --reportformat json --units b --nosuffix vg0/thin1", Stdout: lvsThin1}
	b, s := newScripted(t,
		lvsSrc, notFound("snap-ro"),
		exectest.Step{Cmd: "lvm lvcreate -y -s -n snap-ro -kn -p r --addtag toposuite.io/owned --addtag toposuite.io/class=thin vg0/thin1", Stdout: "  Logical volume \"snap-ro\" created.\n"},
		lvsSrc, notFound("clone"),
		exectest.Step{Cmd: "lvm lvcreate -y -s -n clone -kn -p rw --addtag toposuite.io/owned --addtag toposuite.io/class=thin vg0/thin1", Stdout: "  Logical volume \"clone\" created.\n"},
		exectest.Step{Cmd: "lvm lvextend -L 1610612736b vg0/clone", Stdout: "  Logical volume vg0/clone successfully resized.\n"},
	)
	ctx := context.Background()
	ro, err := b.CreateSnapshot(ctx, storage.SnapshotRequest{Name: "snap-ro", Class: "thin", Source: "thin1", ReadOnly: true})
	if err != nil {
		t.Fatalf("%v\n%s", err, exectest.Lines(s.Calls()))
	}
	if !ro.ReadOnly || !ro.Snapshot || ro.Source != "thin1" || ro.SizeBytes != gib {
		t.Errorf("read-only snapshot = %+v", ro)
	}
	rw, err := b.CreateSnapshot(ctx, storage.SnapshotRequest{Name: "clone", Class: "thin", Source: "thin1", SizeBytes: 1536 * mib})
	if err != nil {
		t.Fatalf("%v\n%s", err, exectest.Lines(s.Calls()))
	}
	if rw.ReadOnly || rw.SizeBytes != 1536*mib {
		t.Errorf("writable clone = %+v", rw)
	}
	// 6 GiB limit - 2 GiB before - 1 GiB snapshot - 1.5 GiB clone.
	if got := classCap(t, b.Capacity(), "thin").AvailableBytes; got != 6*gib-2*gib-gib-1536*mib {
		t.Errorf("thin available = %d", got)
	}
}

func TestThickSnapshotNeedsSizeAndProtectsOrigin(t *testing.T) {
	lvsThick := `{"report":[{"lv":[{"lv_name":"thick1","vg_name":"vg0","lv_uuid":"E1c3dQ","lv_size":"104857600","lv_attr":"owi-aos---","lv_path":"/dev/vg0/thick1","lv_tags":"toposuite.io/owned,toposuite.io/class=ssd","pool_lv":"","origin":"","origin_size":"","data_percent":"","metadata_percent":"","segtype":"linear"}]}]}`
	lvsStep := exectest.Step{Cmd: "lvm lvs -o " + lvFieldsForTest + " --reportformat json --units b --nosuffix vg0/thick1", Stdout: lvsThick}
	b, s := newScripted(t,
		lvsStep,
		exectest.Step{Cmd: "lvm lvs -o " + lvFieldsForTest + " --reportformat json --units b --nosuffix vg0/snap2", ExitCode: 5, Stderr: "  Failed to find logical volume \"vg0/snap2\"\n"},
		lvsStep,
		exectest.Step{Cmd: "lvm lvs -o " + lvFieldsForTest + " --reportformat json --units b --nosuffix vg0/snap2", ExitCode: 5, Stderr: "  Failed to find logical volume \"vg0/snap2\"\n"},
		exectest.Step{Cmd: "lvm lvcreate -y -s -n snap2 -L 54525952b -p r --addtag toposuite.io/owned --addtag toposuite.io/class=ssd vg0/thick1", Stdout: "  Logical volume \"snap2\" created.\n"},
	)
	ctx := context.Background()
	_, err := b.CreateSnapshot(ctx, storage.SnapshotRequest{Name: "snap2", Class: "ssd", Source: "thick1", ReadOnly: true})
	if !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("thick snapshot without size: %v, want ErrInvalid", err)
	}
	before := classCap(t, b.Capacity(), "ssd").AvailableBytes
	v, err := b.CreateSnapshot(ctx, storage.SnapshotRequest{Name: "snap2", Class: "ssd", Source: "thick1", SizeBytes: 50 * mib, ReadOnly: true})
	if err != nil {
		t.Fatalf("%v\n%s", err, exectest.Lines(s.Calls()))
	}
	if v.SizeBytes != 100*mib || !v.ReadOnly {
		t.Errorf("thick snapshot = %+v (it presents its origin's size)", v)
	}
	if got := classCap(t, b.Capacity(), "ssd").AvailableBytes; got != before-52*mib {
		t.Errorf("available = %d, want %d (snapshot takes its rounded COW size)", got, before-52*mib)
	}
	// thick1 has snapshots (snap1 from the report, snap2 now): removing it would take them along.
	if err := b.RemoveVolume(ctx, "ssd", "thick1", storage.Claim{}); !errors.Is(err, storage.ErrPrecondition) {
		t.Errorf("remove origin with snapshots: %v, want ErrPrecondition", err)
	}
}

func TestRAIDOptionsClass(t *testing.T) {
	b, s := newScripted(t, exectest.Step{
		Cmd:    "lvm lvcreate -y -n r1 -L 104857600b --type=raid1 -m 1 --addtag toposuite.io/owned --addtag toposuite.io/class=ssd --addtag toposuite.io/options-class=raid1 vg0",
		Stdout: "  Logical volume \"r1\" created.\n",
	})
	before := classCap(t, b.Capacity(), "ssd")
	// The VG has one PV: no room for a second image or a parity stripe
	// (capacity_layout_test.go has VGs of several PVs).
	for _, oc := range []string{"raid1", "raid5"} {
		if got := before.OptionsClassAvailable[oc]; got != 0 {
			t.Errorf("%s largest volume on one PV = %d, want 0", oc, got)
		}
	}
	if _, err := b.CreateVolume(context.Background(), storage.CreateRequest{Name: "r1", Class: "ssd", SizeBytes: 100 * mib, OptionsClass: "raid1"}); err != nil {
		t.Fatalf("%v\n%s", err, exectest.Lines(s.Calls()))
	}
	if got, want := classCap(t, b.Capacity(), "ssd").AvailableBytes, before.AvailableBytes-2*(25+1)*4*mib; got != want {
		t.Errorf("available after raid1 create = %d, want %d", got, want)
	}
	if _, err := b.CreateVolume(context.Background(), storage.CreateRequest{Name: "t", Class: "thin", SizeBytes: mib, OptionsClass: "raid1"}); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("options class on a thin class: %v, want ErrInvalid", err)
	}
}

func TestRAIDWithoutDeviceMapperIsFailedPrecondition(t *testing.T) {
	b, _ := newScripted(t, exectest.Step{
		Cmd:      "lvm lvcreate -y -n r1 -L 104857600b --type=raid1 -m 1 --addtag toposuite.io/owned --addtag toposuite.io/class=ssd --addtag toposuite.io/options-class=raid1 vg0",
		ExitCode: 5,
		Stderr:   "  WARNING: Activation disabled. No device-mapper interaction will be attempted.\n  Can't create raid1 without using device-mapper kernel driver.\n",
	})
	before := b.Capacity()
	_, err := b.CreateVolume(context.Background(), storage.CreateRequest{Name: "r1", Class: "ssd", SizeBytes: 100 * mib, OptionsClass: "raid1"})
	if !errors.Is(err, storage.ErrPrecondition) {
		t.Errorf("err = %v, want ErrPrecondition", err)
	}
	if d := cmp.Diff(before, b.Capacity()); d != "" {
		t.Errorf("a failed create changed the bookkeeping:\n%s", d)
	}
}

func TestListFromReport(t *testing.T) {
	b, _ := newScripted(t, exectest.Step{Cmd: reportCmd, Stdout: report(t)})
	vs, err := b.ListVolumes(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, v := range vs {
		names = append(names, v.Class+"/"+v.Name)
	}
	// "other" has no owner tag; the pool and its hidden parts are not volumes.
	if d := cmp.Diff([]string{"thin/thin1", "ssd/thick1", "ssd/snap1"}, names); d != "" {
		t.Errorf("listed (-want +got):\n%s", d)
	}
	for _, v := range vs {
		if v.Name == "thin1" && (v.UsedBytes == nil || *v.UsedBytes != gib/4) {
			t.Errorf("thin1 used bytes = %v, want 25%% of 1 GiB", v.UsedBytes)
		}
		if v.Name == "snap1" && (v.SizeBytes != 100*mib || !v.Snapshot || v.Source != "thick1") {
			t.Errorf("snap1 = %+v", v)
		}
	}
}

func TestUnhealthyThinPoolIsReported(t *testing.T) {
	lv, _ := lvm.ParseAttr("Vwi-aotzp-")
	b, _ := newScripted(t)
	v := b.toVolume(b.byName["thin"], lvm.LV{Name: "x", Attr: lv, Size: gib, DataPercent: -1})
	if v.Health != storage.HealthAbnormal || v.HealthMessage == "" {
		t.Errorf("partial LV reported as %+v", v)
	}
}

// gated holds the command line cmd back until gate closes, once gate is
// set, to stand for a command that takes long.
type gated struct {
	exec.Runner
	cmd           string
	gate, entered chan struct{}
}

func (g *gated) Run(ctx context.Context, name string, args ...string) (exec.Result, error) {
	if g.gate != nil && exec.CommandLine(name, args...) == g.cmd {
		close(g.entered)
		<-g.gate
	}
	return g.Runner.Run(ctx, name, args...)
}

// newGated returns a backend on the script of steps whose command line cmd
// is held back once armed, the gate armed, and the class ssd's available
// bytes before anything ran.
func newGated(t *testing.T, cmd string, steps ...exectest.Step) (*Backend, *gated, int64) {
	t.Helper()
	g := &gated{Runner: exectest.New(t, steps...), cmd: cmd}
	b, err := New(context.Background(), testConfig(), lvm.New(g, "lvm"), nil, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	before := classCap(t, b.Capacity(), "ssd").AvailableBytes
	g.gate, g.entered = make(chan struct{}), make(chan struct{})
	return b, g, before
}

// A create made while a poll's report runs neither waits for the report
// nor is undone by it (the report, read before the create, lacks it).
func TestRefreshNeitherHoldsBackNorUndoesAChange(t *testing.T) {
	b, g, before := newGated(t, reportCmd,
		exectest.Step{Cmd: activationCmd, Stdout: "activation=1\n"},
		exectest.Step{Cmd: reportCmd, Stdout: report(t)},
		exectest.Step{Cmd: "lvm lvcreate -y -n vol1 -L 1073741824b --addtag toposuite.io/owned --addtag toposuite.io/class=ssd vg0"},
		exectest.Step{Cmd: reportCmd, Stdout: report(t)},
	)
	refreshed := make(chan storage.Capacity)
	go func() {
		c, err := b.Refresh(context.Background())
		if err != nil {
			t.Error(err)
		}
		refreshed <- c
	}()
	<-g.entered
	if _, err := b.CreateVolume(context.Background(), storage.CreateRequest{Name: "vol1", Class: "ssd", SizeBytes: gib}); err != nil {
		t.Fatal(err)
	}
	close(g.gate)
	c := <-refreshed
	for name, got := range map[string]int64{"Refresh's": classCap(t, c, "ssd").AvailableBytes, "the bookkeeping's": classCap(t, b.Capacity(), "ssd").AvailableBytes} {
		if got != before-gib {
			t.Errorf("%s capacity after the create = %d, want %d", name, got, before-gib)
		}
	}
}

// A poll that starts while a change is in flight runs no report: it would
// be dropped, and in a burst it would only queue for LVM's VG lock.
func TestRefreshSkipsTheReportWhileAChangeRuns(t *testing.T) {
	create := "lvm lvcreate -y -n vol1 -L 1073741824b --addtag toposuite.io/owned --addtag toposuite.io/class=ssd vg0"
	b, g, before := newGated(t, create,
		exectest.Step{Cmd: activationCmd, Stdout: "activation=1\n"},
		exectest.Step{Cmd: reportCmd, Stdout: report(t)},
		exectest.Step{Cmd: create},
	)
	created := make(chan error)
	go func() {
		_, err := b.CreateVolume(context.Background(), storage.CreateRequest{Name: "vol1", Class: "ssd", SizeBytes: gib})
		created <- err
	}()
	<-g.entered
	c, err := b.Refresh(context.Background()) // the script fails the test if it runs a report
	if err != nil {
		t.Fatal(err)
	}
	if got := classCap(t, c, "ssd").AvailableBytes; got != before-gib {
		t.Errorf("capacity during the create = %d, want %d (the create's reservation)", got, before-gib)
	}
	close(g.gate)
	if err := <-created; err != nil {
		t.Fatal(err)
	}
}
