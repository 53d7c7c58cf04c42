//go:build integration

package lvm_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/go-logr/logr"

	"github.com/toposuite/toposuite/internal/exec"
	"github.com/toposuite/toposuite/internal/storage"
	"github.com/toposuite/toposuite/internal/testutil"
	"github.com/toposuite/toposuite/lvmd/config"
	"github.com/toposuite/toposuite/lvmd/lvm"
)

// The same calls through lvm shells and through one process a command give
// the same results and the same classified errors, on a real volume group.
func TestIntegrationShellMatchesProcesses(t *testing.T) {
	vg, run := volumeGroup(t, 256<<20)
	ctx := testutil.Context(t)
	sh := lvm.NewShell(run, run, lvm.ShellOptions{Path: "lvm", Profile: config.DefaultShellProfile, Processes: 2, Log: logr.Discard()})
	t.Cleanup(sh.Close)
	if err := sh.Probe(ctx); err != nil {
		t.Fatalf("the lvm2 package's %s profile should work: %v", config.DefaultShellProfile, err)
	}
	viaShell, viaProcess := lvm.New(sh, "lvm"), lvm.New(run, "lvm")

	for i, c := range []*lvm.Client{viaShell, viaProcess} {
		name := []string{"by-shell", "by-process"}[i]
		if err := c.Create(ctx, lvm.CreateArgs{VG: vg, Name: name, SizeBytes: 8 << 20, Tags: []string{"owner", "class=x"}}); err != nil {
			t.Fatal(err)
		}
		if err := c.Create(ctx, lvm.CreateArgs{VG: vg, Name: name, SizeBytes: 8 << 20}); !errors.Is(err, storage.ErrExists) {
			t.Errorf("%s: second create: %v, want AlreadyExists", name, err)
		}
		if err := c.Create(ctx, lvm.CreateArgs{VG: vg, Name: "huge", SizeBytes: 1 << 30}); !errors.Is(err, storage.ErrNoSpace) {
			t.Errorf("%s: oversized create: %v, want no space", name, err)
		}
		if _, err := c.LV(ctx, vg, "nothere"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("%s: missing LV: %v, want NotFound", name, err)
		}
	}
	a, err := viaShell.FullReport(ctx, vg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := viaProcess.FullReport(ctx, vg)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) || len(a.LVs) != 2 {
		t.Errorf("fullreport by shell %+v\nby process %+v", a, b)
	}
	for i, c := range []*lvm.Client{viaShell, viaProcess} {
		for _, want := range []bool{true, false} {
			removed, err := c.RemoveTagged(ctx, vg, []string{"by-shell", "by-process"}[i], "owner")
			if err != nil || removed != want {
				t.Errorf("RemoveTagged = %v, %v; want %v", removed, err, want)
			}
		}
	}
}

// A profile that does not exist turns the shells off at the probe; the
// commands still run, as processes.
func TestIntegrationShellWithoutProfileFallsBack(t *testing.T) {
	vg, run := volumeGroup(t, 64<<20)
	ctx := testutil.Context(t)
	sh := lvm.NewShell(run, run, lvm.ShellOptions{Path: "lvm", Profile: "no-such-profile", Processes: 1, Log: logr.Discard()})
	t.Cleanup(sh.Close)
	if err := sh.Probe(ctx); err == nil {
		t.Fatal("a missing profile passed the probe")
	}
	vgs, err := lvm.New(sh, "lvm").VGs(ctx, vg)
	if err != nil || len(vgs) != 1 {
		t.Fatalf("VGs after the fallback: %+v, %v", vgs, err)
	}
}

// volumeGroup makes a VG on a loop device of size bytes in a private LVM
// configuration, and a runner of commands in that configuration.
func volumeGroup(t *testing.T, size int64) (string, *exec.Local) {
	testutil.RequireRoot(t)
	testutil.RequireTools(t, "lvm", "losetup")
	dev := testutil.LoopDevice(t, testutil.Dir(t), size)
	env := testutil.NewLVMEnv(t, dev)
	vg := testutil.UniqueName("tsvg")
	env.VG(t, vg, dev)
	return vg, exec.NewLocal(exec.Options{Env: env.Env})
}
