//go:build integration

package disk_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/toposuite/toposuite/internal/disk"
	"github.com/toposuite/toposuite/internal/exec"
	"github.com/toposuite/toposuite/internal/testutil"
	"github.com/toposuite/toposuite/lvmd/lvm"
)

const mib = int64(1) << 20

func codes(rs []disk.Reason) []disk.ReasonCode {
	var out []disk.ReasonCode
	for _, r := range rs {
		out = append(out, r.Code)
	}
	return out
}

// TestIntegrationDiscover runs discover on the real machine, which lists
// every block device; the assertions are about the test's own loop devices.
func TestIntegrationDiscover(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTools(t, "lvm", "losetup", "lsblk", "wipefs", "mkfs.ext4", "mount", "umount")
	dir := testutil.Dir(t)
	blank := testutil.LoopDevice(t, dir, 64*mib)
	ext4 := testutil.LoopDevice(t, dir, 64*mib)
	mbr := testutil.LoopDevice(t, dir, 64*mib)
	mounted := testutil.LoopDevice(t, dir, 64*mib)
	pv := testutil.LoopDevice(t, dir, 64*mib)
	small := testutil.LoopDevice(t, dir, 16*mib)
	ro := testutil.ReadOnlyLoop(t, dir, 64*mib)

	testutil.Run(t, nil, "mkfs.ext4", "-q", "-F", ext4)
	testutil.WriteMBR(t, mbr)
	testutil.Run(t, nil, "mkfs.ext4", "-q", "-F", mounted)
	mp := testutil.Dir(t)
	testutil.Run(t, nil, "mount", mounted, mp)
	t.Cleanup(func() {
		if _, err := testutil.RunErr(nil, "umount", mp); err != nil {
			t.Errorf("umount %s: %v", mp, err)
		}
	})
	env := testutil.NewLVMEnv(t, blank, ext4, mbr, mounted, pv, small, ro)
	vg := testutil.UniqueName("tsdisc")
	env.VG(t, vg, pv)

	r := exec.NewLocal(exec.Options{Env: env.Env, Timeout: 2 * time.Minute})
	c := disk.New(r)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	inv, err := c.Discover(ctx, disk.Criteria{IncludeLoop: true, MinSize: 32 * mib}, lvm.New(r, "lvm"))
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Warnings) != 0 {
		t.Errorf("warnings: %v", inv.Warnings)
	}
	byPath := map[string]disk.Status{}
	for _, d := range inv.Devices {
		byPath[d.Path] = d
	}
	for _, tc := range []struct {
		dev     string
		want    []disk.ReasonCode
		message string
	}{
		{blank, nil, ""},
		{ext4, []disk.ReasonCode{disk.ReasonFilesystem}, "has a filesystem (ext4)"},
		{mbr, []disk.ReasonCode{disk.ReasonPartitioned}, "has a partition table (dos)"},
		{mounted, []disk.ReasonCode{disk.ReasonMounted, disk.ReasonFilesystem}, "is mounted at " + mp},
		{pv, []disk.ReasonCode{disk.ReasonLVMPhysicalVolume}, "is an LVM physical volume of volume group " + vg},
		{small, []disk.ReasonCode{disk.ReasonTooSmall}, "is 16Mi (16777216 bytes), smaller than the minimum of 32Mi (33554432 bytes)"},
		{ro, []disk.ReasonCode{disk.ReasonReadOnly}, "is read-only"},
	} {
		st, ok := byPath[tc.dev]
		if !ok {
			t.Errorf("%s is not listed", tc.dev)
			continue
		}
		if got := codes(st.Reasons); !slices.Equal(got, tc.want) || st.Free != (tc.want == nil) {
			t.Errorf("%s: free %v, reasons %v, want %v", tc.dev, st.Free, st.Reasons, tc.want)
			continue
		}
		if tc.message != "" && st.Reasons[0].Message != tc.message {
			t.Errorf("%s: %q, want %q", tc.dev, st.Reasons[0].Message, tc.message)
		}
	}

	// Without include-loop, the blank loop device is not free.
	inv, err = c.Discover(ctx, disk.Criteria{MinSize: 32 * mib}, lvm.New(r, "lvm"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range inv.Devices {
		if d.Path == blank && (d.Free || !slices.Equal(codes(d.Reasons), []disk.ReasonCode{disk.ReasonExcludedType})) {
			t.Errorf("blank loop device without include-loop: %+v", d)
		}
	}
}

// Inspect of one device, as prepare uses it, sees a mounted filesystem and
// LVM's view of a physical volume.
func TestIntegrationInspect(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTools(t, "lvm", "losetup", "lsblk", "wipefs")
	dir := testutil.Dir(t)
	dev := testutil.LoopDevice(t, dir, 64*mib)
	env := testutil.NewLVMEnv(t, dev)
	testutil.Run(t, env.Env, "lvm", "pvcreate", dev)
	t.Cleanup(func() { _, _ = testutil.RunErr(env.Env, "lvm", "pvremove", "-y", "-ff", dev) })

	r := exec.NewLocal(exec.Options{Env: env.Env, Timeout: 2 * time.Minute})
	ctx := context.Background()
	pvs, err := lvm.New(r, "lvm").PVs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	info, err := disk.New(r).Inspect(ctx, dev, disk.IndexPVs(pvs))
	if err != nil {
		t.Fatal(err)
	}
	if info.PV == nil || info.PV.VolumeGroup != "" || len(info.Signatures) != 1 || info.Signatures[0].Type != disk.TypeLVM2Member {
		t.Errorf("orphan PV: %+v", info)
	}
	if _, err := disk.New(r).Inspect(ctx, filepath.Join(dir, "nothing"), nil); err == nil {
		t.Error("inspect of a missing device succeeded")
	}
}
