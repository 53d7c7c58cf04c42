//go:build vminner

package lvmd_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"k8s.io/apimachinery/pkg/api/resource"

	api "github.com/toposuite/toposuite/internal/daemonapi"
	"github.com/toposuite/toposuite/internal/disk"
	"github.com/toposuite/toposuite/internal/exec"
	"github.com/toposuite/toposuite/internal/testutil"
	"github.com/toposuite/toposuite/lvmd/config"
	"github.com/toposuite/toposuite/lvmd/lvm"
	"github.com/toposuite/toposuite/lvmd/prepare"
)

// lvmd prepare on real disks with a real kernel: it builds the volume
// group and its thin pool (which the host cannot: no device-mapper), a
// second run changes nothing, a pool declared at another size is reported
// and left alone, and lvmd then serves a thin class on the pool.
func TestVMPrepareThinPool(t *testing.T) {
	if os.Getenv("TOPOSUITE_IN_VM") != "1" {
		t.Skip("runs in the VM lane only (make test-vm)")
	}
	disks := vmDisks[:2]
	env := testutil.NewLVMEnv(t, disks...)
	vg := testutil.UniqueName("vmprep")
	// Registered before prepare runs, so that a failure halfway leaves
	// the disks blank for the next test too.
	t.Cleanup(func() {
		if _, err := testutil.RunErr(env.Env, "lvm", "vgs", vg); err == nil {
			if _, err := testutil.RunErr(env.Env, "lvm", "vgremove", "-f", "-y", vg); err != nil {
				t.Errorf("vgremove %s: %v", vg, err)
			}
		}
		for _, d := range disks {
			_, _ = testutil.RunErr(env.Env, "lvm", "pvremove", "-y", "-ff", d)
		}
	})
	run := exec.NewLocal(exec.Options{Env: env.Env, Timeout: 2 * time.Minute})
	p := prepare.New(disk.New(run), lvm.New(run, "lvm"), testr.New(t))
	chunk, meta := resource.MustParse("128Ki"), resource.MustParse("8Mi")
	decl := config.VolumeGroup{Name: vg, Devices: disks, ThinPool: &config.PreparedThinPool{Name: vmPool, Size: "50%", ChunkSize: &chunk, MetadataSize: &meta}}
	if err := prepare.Validate([]config.VolumeGroup{decl}); err != nil {
		t.Fatal(err)
	}
	prep := func(dryRun bool) prepare.VGReport {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		rep, err := p.Prepare(ctx, []config.VolumeGroup{decl}, prepare.Options{DryRun: dryRun})
		if err != nil || rep.Err() != nil {
			t.Fatalf("prepare: %v, %v", err, rep.Err())
		}
		if rep.VolumeGroups[0].ThinPool == nil {
			t.Fatal("no thin pool in the report")
		}
		return rep.VolumeGroups[0]
	}

	rep := prep(true)
	if rep.Result != prepare.ResultWouldCreate || rep.ThinPool.Result != prepare.PoolWouldCreate {
		t.Errorf("dry run: volume group %s, pool %+v", rep.Result, rep.ThinPool)
	}
	if _, err := testutil.RunErr(env.Env, "lvm", "vgs", vg); err == nil {
		t.Fatal("the dry run created the volume group")
	}

	rep = prep(false)
	if rep.Result != prepare.ResultCreated || rep.ThinPool.Result != prepare.PoolCreated {
		t.Fatalf("first run: volume group %s, pool %+v", rep.Result, rep.ThinPool)
	}
	vgSize, _ := strconv.ParseInt(lvmField(t, env, "vgs", "vg_size", vg), 10, 64)
	poolLV := vg + "/" + vmPool
	size := rep.ThinPool.SizeBytes
	if size != vgSize/2/vmExtent*vmExtent {
		t.Errorf("pool of %d bytes in a %d-byte volume group, want half of it in whole extents", size, vgSize)
	}
	if got := lvmField(t, env, "lvs", "lv_size", poolLV); got != strconv.FormatInt(size, 10) {
		t.Errorf("LVM says the pool is %s bytes, prepare said %d", got, size)
	}
	if got := lvmField(t, env, "lvs", "segtype,chunk_size,lv_metadata_size", poolLV); got != "thin-pool 131072 8388608" {
		t.Errorf("pool's segment type, chunk and metadata size = %q, want thin-pool 128 KiB 8 MiB", got)
	}

	rep = prep(false)
	if rep.Result != prepare.ResultUnchanged || rep.ThinPool.Result != prepare.PoolUnchanged {
		t.Errorf("second run: volume group %s, pool %+v", rep.Result, rep.ThinPool)
	}
	decl.ThinPool.Size = "40%"
	rep = prep(false)
	if rep.ThinPool.Result != prepare.PoolDiffers {
		t.Errorf("pool declared at 40%%: %+v, want it reported as differing", rep.ThinPool)
	}
	if got := lvmField(t, env, "lvs", "lv_size", poolLV); got != strconv.FormatInt(size, 10) {
		t.Errorf("the pool was resized to %s bytes", got)
	}

	// lvmd serves a thin class on the pool prepare made.
	r := newVMRig(t, vmRigSpec{vg: vg, env: env, classes: []config.DeviceClass{{
		Name: "thin", Default: true, Type: config.TypeThin,
		ThinPool: &config.ThinPool{Name: vmPool, OverprovisionRatio: 2},
	}}})
	if cc := r.capacity("thin"); cc.SizeBytes != size || cc.AvailableBytes != 2*size {
		t.Errorf("thin class: size %d, available %d; want the pool's %d and twice that", cc.SizeBytes, cc.AvailableBytes, size)
	}
	v := r.create(&api.CreateVolumeRequest{Name: "thin1", SizeBytes: size + 64*vmMiB})
	wantBlockDevice(t, v.Path, size+64*vmMiB)
	writePattern(t, v.Path, 0, 32*vmMiB, 50)
	checkPattern(t, v.Path, 0, 32*vmMiB, 50)
	r.bookkeepingMatchesLVM()
	r.remove("", "thin1")
	wantGone(t, v.Path)
}

// lvmField is LVM's report of fields for one object (vgs or lvs), in
// bytes, space-separated.
func lvmField(t *testing.T, env *testutil.LVMEnv, cmd, fields, name string) string {
	t.Helper()
	return strings.Join(strings.Fields(env.LVM(t, cmd, "--noheadings", "--units", "b", "--nosuffix", "-o", fields, name)), " ")
}
