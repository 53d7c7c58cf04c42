//go:build integration

package prepare_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/toposuite/toposuite/btrfsd/btrfs"
	"github.com/toposuite/toposuite/btrfsd/config"
	"github.com/toposuite/toposuite/btrfsd/prepare"
	"github.com/toposuite/toposuite/internal/exec"
	"github.com/toposuite/toposuite/internal/testutil"
	"github.com/toposuite/toposuite/lvmd/lvm"
)

const mib = int64(1) << 20

// devSize is comfortably above what mkfs.btrfs needs for one device with
// dup metadata; the files are sparse.
const devSize = 256 * mib

// rig is a Preparer running real commands, with a private LVM
// configuration that sees only the test's loop devices.
type rig struct {
	t   *testing.T
	env *testutil.LVMEnv
	p   *prepare.Preparer
}

func newRig(t *testing.T, devs ...string) *rig {
	t.Helper()
	env := testutil.NewLVMEnv(t, devs...)
	r := exec.NewLocal(exec.Options{Env: env.Env, Timeout: 2 * time.Minute})
	q := prepare.KernelQuota{SysfsRoot: btrfs.SysfsRoot}
	return &rig{t: t, env: env, p: prepare.New(r, lvm.New(r, "lvm"), q, testr.New(t))}
}

func setup(t *testing.T) string {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireTools(t, "mkfs.btrfs", "btrfs", "findmnt", "mount", "umount", "losetup", "lsblk", "wipefs", "lvm")
	return testutil.Dir(t)
}

func quantity(s string) *resource.Quantity {
	q := resource.MustParse(s)
	return &q
}

func poolOf(name, path string, devs ...string) config.Pool {
	return config.Pool{Name: name, Path: path, Filesystem: &config.Filesystem{Devices: devs, MinDeviceSize: quantity("32Mi")}}
}

func (r *rig) prepare(o prepare.Options, pools ...config.Pool) *prepare.Report {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rep, err := r.p.Prepare(ctx, pools, o)
	if err != nil {
		r.t.Fatalf("prepare: %v", err)
	}
	return rep
}

// mounted reports whether path is a mount point.
func mounted(path string) bool {
	_, err := testutil.RunErr(nil, "findmnt", "--mountpoint", path)
	return err == nil
}

// cleanupFilesystem unmounts path when the test ends and makes the kernel
// forget the btrfs devices it registered for devs. It is registered before
// prepare runs, so that it runs even if prepare fails halfway, and after
// the loop devices, so that it runs before they are detached.
func cleanupFilesystem(t *testing.T, path string, devs ...string) {
	t.Cleanup(func() {
		for range 3 {
			if !mounted(path) {
				break
			}
			testutil.Unmount(t, path)
		}
		for _, d := range devs {
			_, _ = testutil.RunErr(nil, "btrfs", "device", "scan", "--forget", d)
		}
	})
}

// fsUUID returns the UUID of the btrfs mounted at path, through the kernel.
func fsUUID(t *testing.T, path string) string {
	t.Helper()
	id, err := btrfs.FSID(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return id
}

func quotaOn(t *testing.T, fsid string) bool {
	t.Helper()
	_, err := btrfs.Qgroups(btrfs.SysfsRoot, fsid)
	if err != nil && !errors.Is(err, btrfs.ErrQuotaDisabled) {
		t.Fatal(err)
	}
	return err == nil
}

func TestIntegrationPrepareCreateUnchangedRemount(t *testing.T) {
	dir := setup(t)
	dev := testutil.LoopDevice(t, dir, devSize)
	path := filepath.Join(dir, "pools", "fast")
	cleanupFilesystem(t, path, dev)
	r := newRig(t, dev)
	pool := poolOf("fast", path, dev)

	// A dry run says what it would do and does it not.
	rep := r.prepare(prepare.Options{DryRun: true}, pool)
	if p := rep.Pools[0]; p.Result != prepare.ResultWouldCreate || mounted(path) || len(testutil.Signatures(t, dev)) != 0 {
		t.Fatalf("dry run: %+v", p)
	}

	rep = r.prepare(prepare.Options{}, pool)
	created := rep.Pools[0]
	if err := rep.Err(); err != nil || created.Result != prepare.ResultCreated || created.Label != "topols-fast" || !created.QuotaEnabled {
		t.Fatalf("first run: %v %+v", err, created)
	}
	if !mounted(path) || fsUUID(t, path) != created.UUID {
		t.Fatalf("%s is not the new filesystem %s", path, created.UUID)
	}
	if !quotaOn(t, created.UUID) {
		t.Errorf("quotas are off after creation")
	}
	if sigs := testutil.Signatures(t, dev); !slices.Equal(sigs, []string{"btrfs"}) {
		t.Errorf("signatures = %v", sigs)
	}

	rep = r.prepare(prepare.Options{}, pool)
	if p := rep.Pools[0]; p.Result != prepare.ResultUnchanged || p.UUID != created.UUID || p.QuotaEnabled || p.Devices[0].Action != prepare.ActionKeep {
		t.Errorf("second run: %+v", p)
	}

	// As after a reboot: the filesystem is there, not mounted.
	testutil.Unmount(t, path)
	rep = r.prepare(prepare.Options{DryRun: true}, pool)
	if p := rep.Pools[0]; p.Result != prepare.ResultWouldMount || mounted(path) {
		t.Errorf("dry run of the mount: %+v", p)
	}
	rep = r.prepare(prepare.Options{}, pool)
	if p := rep.Pools[0]; p.Result != prepare.ResultMounted || p.UUID != created.UUID || p.Devices[0].Action != prepare.ActionKeep {
		t.Errorf("after unmount: %+v", p)
	}
	if !mounted(path) || fsUUID(t, path) != created.UUID || !quotaOn(t, created.UUID) {
		t.Errorf("remounted: mounted %v, quota on %v", mounted(path), quotaOn(t, created.UUID))
	}
}

func TestIntegrationPrepareRAID1(t *testing.T) {
	dir := setup(t)
	a := testutil.LoopDevice(t, dir, devSize)
	b := testutil.LoopDevice(t, dir, devSize)
	path := filepath.Join(dir, "mirror")
	cleanupFilesystem(t, path, a, b)
	r := newRig(t, a, b)
	pool := poolOf("mirror", path, a, b)
	pool.Filesystem.DataProfile, pool.Filesystem.MetadataProfile = "raid1", "raid1"
	pool.Filesystem.MountOptions = []string{"noatime"}

	rep := r.prepare(prepare.Options{}, pool)
	created := rep.Pools[0]
	if err := rep.Err(); err != nil || created.Result != prepare.ResultCreated {
		t.Fatalf("create: %v %+v", err, created)
	}
	df := testutil.Run(t, nil, "btrfs", "filesystem", "df", path)
	if !strings.Contains(df, "Data, RAID1") || !strings.Contains(df, "Metadata, RAID1") {
		t.Errorf("btrfs filesystem df:\n%s", df)
	}
	if opts := testutil.Run(t, nil, "findmnt", "--noheadings", "--output", "OPTIONS", "--mountpoint", path); !strings.Contains(opts, "noatime") {
		t.Errorf("mount options = %s", opts)
	}
	if !quotaOn(t, created.UUID) {
		t.Errorf("quotas are off")
	}

	// As after a reboot: unmounted, and the kernel no longer knows the
	// devices; the mount names them all.
	testutil.Unmount(t, path)
	for _, d := range []string{a, b} {
		testutil.Run(t, nil, "btrfs", "device", "scan", "--forget", d)
	}
	rep = r.prepare(prepare.Options{}, pool)
	if p := rep.Pools[0]; p.Result != prepare.ResultMounted || p.UUID != created.UUID {
		t.Fatalf("remount: %+v", p)
	}
	if fsUUID(t, path) != created.UUID {
		t.Errorf("another filesystem is mounted")
	}
}

func TestIntegrationPrepareRefusals(t *testing.T) {
	dir := setup(t)
	testutil.RequireTools(t, "mkfs.ext4")

	type dirty struct {
		name string
		// make dirties dev (on a rig seeing it) and returns the pool's
		// minimum device size and the expected reason's prefix.
		make     func(t *testing.T, r *rig, dev string) (minSize, reason string)
		wipeable bool
	}
	for _, tc := range []dirty{
		{"ext4", func(t *testing.T, _ *rig, dev string) (string, string) {
			testutil.MkfsExt4(t, dev)
			return "32Mi", "has a filesystem (ext4)"
		}, true},
		{"partition table", func(t *testing.T, _ *rig, dev string) (string, string) {
			testutil.WriteMBR(t, dev)
			return "32Mi", "has a partition table (dos)"
		}, true},
		{"another btrfs", func(t *testing.T, _ *rig, dev string) (string, string) {
			testutil.Run(t, nil, "mkfs.btrfs", "-q", "-L", "someone-else", dev)
			return "32Mi", `has a filesystem (btrfs, labelled "someone-else")`
		}, true},
		{"mounted", func(t *testing.T, _ *rig, dev string) (string, string) {
			testutil.MkfsExt4(t, dev)
			return "32Mi", "is mounted at " + testutil.MountAtCleanup(t, dev)
		}, false},
		{"LVM physical volume", func(t *testing.T, r *rig, dev string) (string, string) {
			vg := testutil.UniqueName("tsbtrfs")
			r.env.VG(t, vg, dev)
			return "32Mi", "is an LVM physical volume of volume group " + vg
		}, false},
		{"too small", func(*testing.T, *rig, string) (string, string) {
			return "512Mi", "is 256Mi (268435456 bytes), smaller than the minimum of 512Mi"
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			blank := testutil.LoopDevice(t, dir, devSize)
			dev := testutil.LoopDevice(t, dir, devSize)
			path := filepath.Join(testutil.Dir(t), "pool")
			cleanupFilesystem(t, path, blank, dev)
			r := newRig(t, blank, dev)
			minSize, reason := tc.make(t, r, dev)
			pool := poolOf("p", path, blank, dev)
			pool.Filesystem.MinDeviceSize = quantity(minSize)
			before := testutil.Signatures(t, dev)

			rep := r.prepare(prepare.Options{}, pool)
			got := rep.Pools[0]
			if d := got.Devices[1]; got.Result != prepare.ResultRefused || d.Action != prepare.ActionRefuse || !strings.HasPrefix(d.Reason, reason) {
				t.Fatalf("not refused as expected: %+v", got)
			}
			if err := rep.Err(); err == nil || !strings.Contains(err.Error(), "p: "+dev+": "+reason) {
				t.Errorf("Err() = %v", err)
			}
			if mounted(path) || len(testutil.Signatures(t, blank)) != 0 {
				t.Errorf("the pool was touched although a device was refused")
			}

			pool.Filesystem.Wipe = []string{dev}
			rep = r.prepare(prepare.Options{}, pool)
			got = rep.Pools[0]
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
			if got.Result != prepare.ResultCreated || got.Devices[1].Action != prepare.ActionWipeAndUse {
				t.Fatalf("listed under wipe: %+v", got)
			}
			if !mounted(path) || fsUUID(t, path) != got.UUID {
				t.Errorf("the new filesystem is not mounted")
			}
			for _, d := range []string{blank, dev} {
				if sigs := testutil.Signatures(t, d); !slices.Equal(sigs, []string{"btrfs"}) {
					t.Errorf("signatures of %s = %v", d, sigs)
				}
			}
		})
	}

	t.Run("read-only", func(t *testing.T) {
		blank := testutil.LoopDevice(t, dir, devSize)
		ro := testutil.ReadOnlyLoop(t, testutil.Dir(t), devSize)
		path := filepath.Join(testutil.Dir(t), "pool")
		cleanupFilesystem(t, path, blank, ro)
		r := newRig(t, blank, ro)
		pool := poolOf("p", path, blank, ro)
		pool.Filesystem.Wipe = []string{ro}
		rep := r.prepare(prepare.Options{}, pool)
		if d := rep.Pools[0].Devices[1]; d.Action != prepare.ActionRefuse || !strings.HasPrefix(d.Reason, "is read-only") || mounted(path) {
			t.Errorf("read-only device: %+v", rep.Pools[0])
		}
	})
}

// Devices of a multi-device filesystem that the pool declares only in
// part are refused even when listed under wipe, and so are those of a
// mounted one, which lsblk does not show as mounted.
func TestIntegrationPrepareProtectsOtherFilesystems(t *testing.T) {
	dir := setup(t)
	a := testutil.LoopDevice(t, dir, devSize)
	b := testutil.LoopDevice(t, dir, devSize)
	c := testutil.LoopDevice(t, dir, devSize)
	other := filepath.Join(testutil.Dir(t), "other")
	path := filepath.Join(testutil.Dir(t), "pool")
	cleanupFilesystem(t, path, c)
	cleanupFilesystem(t, other, a, b)
	testutil.Run(t, nil, "mkfs.btrfs", "-q", "-L", "someone-else", "-d", "raid1", "-m", "raid1", a, b)
	r := newRig(t, a, b, c)

	check := func(when, reason string) {
		t.Helper()
		pool := poolOf("p", path, b, c)
		pool.Filesystem.Wipe = []string{b}
		rep := r.prepare(prepare.Options{}, pool)
		if d := rep.Pools[0].Devices[0]; d.Action != prepare.ActionRefuse || !strings.Contains(d.Reason, reason) {
			t.Errorf("%s: %+v", when, rep.Pools[0])
		}
		if mounted(path) || !slices.Equal(testutil.Signatures(t, b), []string{"btrfs"}) {
			t.Errorf("%s: a refused pool was touched", when)
		}
	}
	check("partly declared", "is one of the 2 devices of btrfs filesystem")

	testutil.Run(t, nil, "mkdir", "-p", other)
	testutil.Run(t, nil, "mount", "-t", "btrfs", a, other)
	check("mounted elsewhere", "which is mounted")
}

// Without LVM's answer (no lvm on the node, or a filter that hides the
// device), a physical volume is still refused, by its signature.
func TestIntegrationPrepareRefusesAPhysicalVolumeWithoutLVM(t *testing.T) {
	dir := setup(t)
	dev := testutil.LoopDevice(t, dir, devSize)
	path := filepath.Join(dir, "pool")
	cleanupFilesystem(t, path, dev)
	env := testutil.NewLVMEnv(t, dev)
	env.LVM(t, "pvcreate", dev)
	t.Cleanup(func() { _, _ = testutil.RunErr(env.Env, "lvm", "pvremove", "-y", "-ff", dev) })

	r := exec.NewLocal(exec.Options{Timeout: 2 * time.Minute})
	p := prepare.New(r, nil, prepare.KernelQuota{SysfsRoot: btrfs.SysfsRoot}, testr.New(t))
	pool := poolOf("p", path, dev)
	pool.Filesystem.Wipe = []string{dev}
	rep, err := p.Prepare(context.Background(), []config.Pool{pool}, prepare.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d := rep.Pools[0].Devices[0]; d.Action != prepare.ActionRefuse || !strings.HasPrefix(d.Reason, "has an LVM physical volume signature") {
		t.Errorf("device = %+v", d)
	}
	if sigs := testutil.Signatures(t, dev); !slices.Equal(sigs, []string{"LVM2_member"}) || mounted(path) {
		t.Errorf("signatures = %v, mounted %v", sigs, mounted(path))
	}
}
