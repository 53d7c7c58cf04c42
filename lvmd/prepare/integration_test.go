//go:build integration

package prepare_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/toposuite/toposuite/internal/disk"
	"github.com/toposuite/toposuite/internal/exec"
	"github.com/toposuite/toposuite/internal/testutil"
	"github.com/toposuite/toposuite/lvmd/config"
	"github.com/toposuite/toposuite/lvmd/lvm"
	"github.com/toposuite/toposuite/lvmd/prepare"
)

const mib = int64(1) << 20

// rig is a private LVM configuration that sees only the test's loop
// devices, and a Preparer running in it.
type rig struct {
	t   *testing.T
	env *testutil.LVMEnv
	p   *prepare.Preparer
}

func newRig(t *testing.T, devs ...string) *rig {
	t.Helper()
	env := testutil.NewLVMEnv(t, devs...)
	r := exec.NewLocal(exec.Options{Env: env.Env, Timeout: 2 * time.Minute})
	return &rig{t: t, env: env, p: prepare.New(disk.New(r), lvm.New(r, "lvm"), testr.New(t))}
}

func setup(t *testing.T) string {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireTools(t, "lvm", "losetup", "lsblk", "wipefs", "truncate")
	return testutil.Dir(t)
}

func quantity(s string) *resource.Quantity {
	q := resource.MustParse(s)
	return &q
}

// removeVGAtCleanup removes the VG prepare may create, and the PV labels on
// devs, when the test ends. It is registered before prepare runs, so that
// it runs even if prepare fails halfway, and after the loop devices, so
// that it runs before they are detached.
func (r *rig) removeVGAtCleanup(name string, devs ...string) {
	r.t.Cleanup(func() {
		if _, err := testutil.RunErr(r.env.Env, "lvm", "vgs", name); err == nil {
			if _, err := testutil.RunErr(r.env.Env, "lvm", "vgremove", "-f", "-y", name); err != nil {
				r.t.Errorf("vgremove %s: %v", name, err)
			}
		}
		for _, d := range devs {
			_, _ = testutil.RunErr(r.env.Env, "lvm", "pvremove", "-y", "-ff", d)
		}
	})
}

func (r *rig) prepare(o prepare.Options, vgs ...config.VolumeGroup) *prepare.Report {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rep, err := r.p.Prepare(ctx, vgs, o)
	if err != nil {
		r.t.Fatalf("prepare: %v", err)
	}
	return rep
}

// members returns the PVs of vg, as LVM sees them.
func (r *rig) members(vg string) []string {
	out, err := testutil.RunErr(r.env.Env, "lvm", "pvs", "--noheadings", "-o", "pv_name", "-S", "vg_name="+vg)
	if err != nil {
		r.t.Fatal(err)
	}
	m := strings.Fields(out)
	slices.Sort(m)
	return m
}

func (r *rig) vgExists(vg string) bool {
	_, err := testutil.RunErr(r.env.Env, "lvm", "vgs", vg)
	return err == nil
}

func sorted(s ...string) []string {
	slices.Sort(s)
	return s
}

func vgOf(name string, devs ...string) config.VolumeGroup {
	return config.VolumeGroup{Name: name, Devices: devs, MinDeviceSize: quantity("32Mi")}
}

func deviceActions(vg prepare.VGReport) map[string]prepare.Action {
	out := map[string]prepare.Action{}
	for _, d := range vg.Devices {
		out[d.Device] = d.Action
	}
	return out
}

func TestIntegrationPrepareCreateUnchangedExtend(t *testing.T) {
	dir := setup(t)
	a := testutil.LoopDevice(t, dir, 64*mib)
	b := testutil.LoopDevice(t, dir, 64*mib)
	c := testutil.LoopDevice(t, dir, 64*mib)
	r := newRig(t, a, b, c)
	name := testutil.UniqueName("tsprep")
	r.removeVGAtCleanup(name, a, b, c)

	rep := r.prepare(prepare.Options{}, vgOf(name, a, b))
	if err := rep.Err(); err != nil || rep.VolumeGroups[0].Result != prepare.ResultCreated {
		t.Fatalf("first run: %v %+v", err, rep.VolumeGroups)
	}
	if got := r.members(name); !slices.Equal(got, sorted(a, b)) {
		t.Fatalf("members after create = %v", got)
	}

	rep = r.prepare(prepare.Options{}, vgOf(name, a, b))
	if vg := rep.VolumeGroups[0]; vg.Result != prepare.ResultUnchanged || deviceActions(vg)[a] != prepare.ActionKeep || deviceActions(vg)[b] != prepare.ActionKeep {
		t.Errorf("second run: %+v", vg)
	}

	// A dry run of an extension says so and changes nothing.
	rep = r.prepare(prepare.Options{DryRun: true}, vgOf(name, a, b, c))
	if vg := rep.VolumeGroups[0]; vg.Result != prepare.ResultWouldExtend || deviceActions(vg)[c] != prepare.ActionAdd {
		t.Errorf("dry run: %+v", vg)
	}
	if got := r.members(name); !slices.Equal(got, sorted(a, b)) {
		t.Fatalf("dry run changed the members: %v", got)
	}

	rep = r.prepare(prepare.Options{}, vgOf(name, a, b, c))
	if vg := rep.VolumeGroups[0]; vg.Result != prepare.ResultExtended || deviceActions(vg)[c] != prepare.ActionAdd {
		t.Errorf("extend: %+v", vg)
	}
	if got := r.members(name); !slices.Equal(got, sorted(a, b, c)) {
		t.Fatalf("members after extend = %v", got)
	}

	// b is no longer declared: reported, never removed.
	rep = r.prepare(prepare.Options{}, vgOf(name, a, c))
	vg := rep.VolumeGroups[0]
	if vg.Result != prepare.ResultUnchanged || deviceActions(vg)[b] != prepare.ActionLeaveInPlace {
		t.Errorf("undeclared: %+v", vg)
	}
	if got := r.members(name); !slices.Equal(got, sorted(a, b, c)) {
		t.Errorf("an undeclared device was removed: %v", got)
	}
}

func TestIntegrationPrepareRefusals(t *testing.T) {
	dir := setup(t)
	testutil.RequireTools(t, "mkfs.ext4", "mount", "umount")

	type dirty struct {
		name string
		// make readies the device and returns the VG's minimum device size.
		make     func(t *testing.T, r *rig, dev string) string
		reason   string
		wipeable bool
	}
	for _, tc := range []dirty{
		{"ext4", func(t *testing.T, _ *rig, dev string) string { testutil.MkfsExt4(t, dev); return "32Mi" }, "has a filesystem (ext4)", true},
		{"partition table", func(t *testing.T, _ *rig, dev string) string { testutil.WriteMBR(t, dev); return "32Mi" }, "has a partition table (dos)", true},
		{"PV of another VG", func(t *testing.T, r *rig, dev string) string {
			r.env.VG(t, testutil.UniqueName("tsother"), dev)
			return "32Mi"
		}, "is an LVM physical volume of volume group tsother", false},
		{"too small", func(*testing.T, *rig, string) string { return "128Mi" }, "is 64Mi (67108864 bytes), smaller than the minimum of 128Mi", false},
		{"mounted", func(t *testing.T, _ *rig, dev string) string {
			testutil.MkfsExt4(t, dev)
			mp := testutil.MountAtCleanup(t, dev)
			return "32Mi" + "|" + mp
		}, "is mounted at ", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			blank := testutil.LoopDevice(t, dir, 64*mib)
			dev := testutil.LoopDevice(t, dir, 64*mib)
			r := newRig(t, blank, dev)
			minSize, mp, _ := strings.Cut(tc.make(t, r, dev), "|")
			name := testutil.UniqueName("tsprep")
			r.removeVGAtCleanup(name, blank)
			vg := config.VolumeGroup{Name: name, Devices: []string{blank, dev}, MinDeviceSize: quantity(minSize)}
			before := testutil.Signatures(t, dev)

			rep := r.prepare(prepare.Options{}, vg)
			got := rep.VolumeGroups[0]
			d := got.Devices[1]
			if got.Result != prepare.ResultRefused || d.Action != prepare.ActionRefuse || !strings.HasPrefix(d.Reason, tc.reason+mp) {
				t.Fatalf("not refused as expected: %+v", got)
			}
			if err := rep.Err(); err == nil || !strings.Contains(err.Error(), dev+": "+tc.reason) {
				t.Errorf("Err() = %v", err)
			}
			if r.vgExists(name) {
				t.Errorf("the VG was created although a device was refused")
			}

			vg.Wipe = []string{dev}
			rep = r.prepare(prepare.Options{}, vg)
			got = rep.VolumeGroups[0]
			if !tc.wipeable {
				if got.Result != prepare.ResultRefused || got.Devices[1].Action != prepare.ActionRefuse ||
					!strings.Contains(got.Devices[1].Reason, "wiping only erases signatures of a device that is otherwise free") {
					t.Errorf("listed under wipe: %+v", got)
				}
				if after := testutil.Signatures(t, dev); !slices.Equal(before, after) {
					t.Errorf("signatures changed from %v to %v", before, after)
				}
				return
			}
			r.removeVGAtCleanup(name, blank, dev)
			if got.Result != prepare.ResultCreated || got.Devices[1].Action != prepare.ActionWipeAndAdd {
				t.Fatalf("listed under wipe: %+v", got)
			}
			if members := r.members(name); !slices.Equal(members, sorted(blank, dev)) {
				t.Errorf("members = %v", members)
			}
			if after := testutil.Signatures(t, dev); !slices.Equal(after, []string{disk.TypeLVM2Member}) {
				t.Errorf("signatures after wipe and pvcreate = %v", after)
			}
		})
	}
}

// loopsOf returns the loop devices attached to file.
func loopsOf(t *testing.T, file string) []string {
	t.Helper()
	out, err := testutil.RunErr(nil, "losetup", "--noheadings", "--output", "NAME", "--associated", file)
	if err != nil {
		t.Errorf("losetup --associated %s: %v", file, err)
		return nil
	}
	return strings.Fields(out)
}

// detachAtCleanup detaches, when the test ends, every loop device attached
// to file: prepare attaches them, so their names are only known then.
func detachAtCleanup(t *testing.T, file string) {
	t.Cleanup(func() {
		for _, dev := range loopsOf(t, file) {
			testutil.DetachLoop(t, dev)
		}
	})
}

// Prepare's loop file handling, on a real file. The LVM filter must name
// the loop device exactly (other VGs live on other loop devices of this
// machine), so the test attaches first through AttachLoopFile, which
// prepare itself runs, and then builds the filter from the device it got.
func TestIntegrationPrepareLoopFiles(t *testing.T) {
	dir := setup(t)
	file := filepath.Join(dir, "sub", "disk0.img")
	detachAtCleanup(t, file)
	lf := config.LoopFile{Path: file, Size: quantity("64Mi")}
	bootstrap := newRig(t)
	ctx := context.Background()

	// A dry run creates nothing.
	dry, err := bootstrap.p.AttachLoopFile(ctx, lf, true)
	if err != nil || dry.State != prepare.LoopNotAttached {
		t.Fatalf("dry run: %+v, %v", dry, err)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("a dry run created the file: %v", err)
	}

	first, err := bootstrap.p.AttachLoopFile(ctx, lf, false)
	if err != nil || first.State != prepare.LoopAttached || !strings.HasPrefix(first.Device, "/dev/loop") {
		t.Fatalf("attach: %+v, %v", first, err)
	}
	if st, err := os.Stat(file); err != nil || st.Size() != 64*mib {
		t.Fatalf("loop file: %v, %v", st, err)
	}
	again, err := bootstrap.p.AttachLoopFile(ctx, lf, false)
	if err != nil || again.State != prepare.LoopAlreadyAttached || again.Device != first.Device {
		t.Fatalf("second attach: %+v, %v", again, err)
	}

	r := newRig(t, first.Device)
	name := testutil.UniqueName("tsloop")
	r.removeVGAtCleanup(name, first.Device)
	vg := config.VolumeGroup{Name: name, LoopFiles: []config.LoopFile{lf}, MinDeviceSize: quantity("32Mi")}
	for run, want := range []prepare.Result{prepare.ResultCreated, prepare.ResultUnchanged} {
		rep := r.prepare(prepare.Options{}, vg)
		got := rep.VolumeGroups[0]
		if got.Result != want || len(got.Devices) != 1 || got.Devices[0].Device != first.Device ||
			got.Devices[0].Loop != prepare.LoopAlreadyAttached || got.Devices[0].LoopFile != file {
			t.Errorf("run %d: %+v", run+1, got)
		}
	}
	if loops := loopsOf(t, file); !slices.Equal(loops, []string{first.Device}) {
		t.Errorf("loop devices of the file = %v, want only %s", loops, first.Device)
	}
	if members := r.members(name); !slices.Equal(members, []string{first.Device}) {
		t.Errorf("members = %v", members)
	}
}

// The host has no device-mapper, so LVM cannot make a thin pool here: this
// test plans one (a dry run) on a real volume group; the VM lane creates
// one for real (lvmd's TestVMPrepareThinPool).
func TestIntegrationPrepareThinPoolPlan(t *testing.T) {
	dir := setup(t)
	a := testutil.LoopDevice(t, dir, 64*mib)
	r := newRig(t, a)
	name := testutil.UniqueName("tsprep")
	r.removeVGAtCleanup(name, a)
	vg := vgOf(name, a)
	vg.ThinPool = &config.PreparedThinPool{Name: "pool0", Size: "50%"}

	rep := r.prepare(prepare.Options{DryRun: true}, vg)
	if tp := rep.VolumeGroups[0].ThinPool; tp == nil || tp.Result != prepare.PoolWouldCreate || tp.SizeBytes != 0 {
		t.Errorf("dry run before the volume group exists: pool %+v", tp)
	}
	vg.ThinPool = nil
	if rep := r.prepare(prepare.Options{}, vg); rep.VolumeGroups[0].Result != prepare.ResultCreated {
		t.Fatalf("volume group: %+v", rep.VolumeGroups[0])
	}
	vg.ThinPool = &config.PreparedThinPool{Name: "pool0", Size: "50%"}
	rep = r.prepare(prepare.Options{DryRun: true}, vg)
	// 64 MiB less LVM's 1 MiB header is 15 extents of 4 MiB; half of 60 MiB
	// rounded down to extents is 28 MiB.
	tp := rep.VolumeGroups[0].ThinPool
	if tp == nil || tp.Result != prepare.PoolWouldCreate || tp.SizeBytes != 28*mib {
		t.Errorf("dry run on the volume group: pool %+v, want wouldCreate of 28 MiB", tp)
	}
	if out := r.env.LVM(t, "lvs", "--noheadings", "-o", "lv_name", name); strings.TrimSpace(out) != "" {
		t.Errorf("the dry run created %q", out)
	}
}
