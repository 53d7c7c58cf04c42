//go:build integration && vminner

package csi_test

// VOLUME_CONDITION from real faults, on real device-mapper: a thin pool
// that fills up, an LV removed behind lvmd's back, a VG that lost a PV.
// Each fault is reported on the faulty volume in words a person can act
// on, and the node keeps serving its other volumes.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"

	topocsi "github.com/toposuite/toposuite/csi"
	"github.com/toposuite/toposuite/internal/testutil"
)

func TestVMConditionThinPoolFull(t *testing.T) {
	// --errorwhenfull y: writes past a full pool fail at once instead of
	// queueing for a minute, as LVM's default does.
	r := newVMRig(t, vmRigSpec{pvs: vmDisks[:1], pool: 64 * mib, poolArgs: []string{"--errorwhenfull", "y"}, overprovision: 4})
	healthy := r.healthyVolume(t)
	a := r.published(t, "thin-a", classThin, 48*mib, blockCap())
	b := r.published(t, "thin-b", classThin, 48*mib, blockCap())

	// 96 MiB into a 64 MiB pool: the pool fills and the writes past it fail.
	errA, errB := fill(a.target, 48*mib), fill(b.target, 48*mib)
	if errA == nil && errB == nil {
		t.Fatal("wrote 96 MiB into thin volumes of a 64 MiB pool without an error")
	}
	t.Logf("writes into the full pool: %v; %v", errA, errB)
	want := fmt.Sprintf("thin pool %s/%s is 100%% full: writes fail", r.vg, vmPool)
	for _, v := range []vmVolume{a, b} {
		r.wantCondition(t, v, true, want)
	}
	r.wantHealthy(t, healthy)
}

func TestVMConditionRemovedLV(t *testing.T) {
	r := newVMRig(t, vmRigSpec{pvs: vmDisks[:1]})
	healthy := r.healthyVolume(t)
	// A Block volume: LVM refuses to remove an LV with a mounted
	// filesystem, while a device node bound onto the target holds nothing
	// open.
	v := r.published(t, "victim", classThick, 32*mib, blockCap())
	r.env.LVM(t, "lvremove", "-y", r.vg+"/"+v.id)
	r.wantCondition(t, v, true, fmt.Sprintf("the volume was removed outside topolvm.io while published here: volume %q is not on node %s", v.id, nodeName))
	r.wantHealthy(t, healthy)
}

func TestVMConditionLostPV(t *testing.T) {
	// The second PV is a device-mapper device over /dev/vdc whose table
	// the test swaps for an error table: the disk fails, as if pulled.
	// (virtio disks have no SCSI state to set offline.)
	const dm = "csivm-failing"
	sectors := strings.TrimSpace(testutil.Run(t, nil, "blockdev", "--getsz", vmDisks[2]))
	linear := "0 " + sectors + " linear " + vmDisks[2] + " 0"
	// No udev in the guest: dmsetup makes the /dev/mapper node itself.
	testutil.Run(t, nil, "dmsetup", "create", "--noudevsync", "--noudevrules", dm, "--table", linear)
	testutil.Run(t, nil, "dmsetup", "mknodes", dm)
	t.Cleanup(func() { testutil.Run(t, nil, "dmsetup", "remove", dm) }) // after the VG is gone
	failing := "/dev/mapper/" + dm
	r := newVMRig(t, vmRigSpec{pvs: []string{vmDisks[1], failing}})

	// The healthy volume comes first, so LVM puts it on the first PV; the
	// spanning one takes nearly all the room left, more than either PV
	// has, so it has extents on both.
	healthy := r.healthyVolume(t)
	free := r.env.LVM(t, "vgs", "--noheadings", "--units", "b", "--nosuffix", "-o", "vg_free", r.vg)
	var vgFree int64
	if _, err := fmt.Sscan(free, &vgFree); err != nil {
		t.Fatalf("vg_free %q: %v", free, err)
	}
	v := r.published(t, "spanning", classThick, vgFree-64*mib, blockCap())
	if devs := r.devices(t, healthy.id); strings.Contains(devs, failing) {
		t.Fatalf("the healthy volume is on the disk to fail: %s", devs)
	}
	if devs := r.devices(t, v.id); !strings.Contains(devs, failing) || !strings.Contains(devs, vmDisks[1]) {
		t.Fatalf("the spanning volume is not on both PVs: %s", devs)
	}

	setTable := func(table string) {
		testutil.Run(t, nil, "dmsetup", "suspend", dm)
		testutil.Run(t, nil, "dmsetup", "load", dm, "--table", table)
		testutil.Run(t, nil, "dmsetup", "resume", dm)
	}
	setTable("0 " + sectors + " error")
	// The disk comes back before the volumes are deleted: LVM changes no
	// VG with a PV missing.
	t.Cleanup(func() { setTable(linear) })
	r.wantCondition(t, v, true, fmt.Sprintf("the volume group %s lost a physical volume: part of this volume is on a disk LVM cannot find, and reads and writes there fail", r.vg))
	r.wantHealthy(t, healthy)
}

// vmVolume is a volume published at target.
type vmVolume struct{ id, target string }

// published creates a volume of class and publishes it; the cleanup
// unpublishes and deletes it, and waits for its LogicalVolume to go. The
// tests share the API server, so the CSI name is made unique.
func (r *vmRig) published(t *testing.T, name, class string, size int64, vc *csi.VolumeCapability) vmVolume {
	t.Helper()
	c := testutil.Context(t)
	vol, err := r.ctl.CreateVolume(c, &csi.CreateVolumeRequest{
		Name: testutil.UniqueName(name), VolumeCapabilities: []*csi.VolumeCapability{vc}, CapacityRange: &csi.CapacityRange{RequiredBytes: size},
		Parameters: map[string]string{r.d.Param(topocsi.ParamDeviceClass): class}, AccessibilityRequirements: r.topology(),
	})
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	v := vmVolume{id: vol.Volume.VolumeId, target: r.target(name)}
	if vc.GetBlock() != nil {
		v.target = filepath.Join(r.kubeletDir, "plugins", "block", name)
		if err := os.MkdirAll(filepath.Dir(v.target), 0o750); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		c := context.Background()
		if _, err := r.node.NodeUnpublishVolume(c, &csi.NodeUnpublishVolumeRequest{VolumeId: v.id, TargetPath: v.target}); err != nil {
			t.Errorf("unpublish %s: %v", name, err)
		}
		if _, err := r.ctl.DeleteVolume(c, &csi.DeleteVolumeRequest{VolumeId: v.id}); err != nil {
			t.Errorf("delete %s: %v", name, err)
			return
		}
		r.lvGone(t, v.id)
	})
	if _, err := r.node.NodePublishVolume(c, &csi.NodePublishVolumeRequest{
		VolumeId: v.id, TargetPath: v.target, VolumeCapability: vc, VolumeContext: vol.Volume.VolumeContext,
	}); err != nil {
		t.Fatalf("publish %s: %v", name, err)
	}
	return v
}

// healthyVolume is a thick ext4 volume with a file on it, published: the
// node must keep serving it whatever happens to the others.
func (r *vmRig) healthyVolume(t *testing.T) vmVolume {
	t.Helper()
	v := r.published(t, "healthy", classThick, 64*mib, mountCap("ext4"))
	if err := os.WriteFile(filepath.Join(v.target, "data"), make([]byte, 4*mib), 0o644); err != nil {
		t.Fatal(err)
	}
	r.wantHealthy(t, v)
	return v
}

func (r *vmRig) stats(t *testing.T, v vmVolume) *csi.NodeGetVolumeStatsResponse {
	t.Helper()
	s, err := r.node.NodeGetVolumeStats(testutil.Context(t), &csi.NodeGetVolumeStatsRequest{VolumeId: v.id, VolumePath: v.target})
	if err != nil {
		t.Fatalf("stats of %s: %v", v.id, err)
	}
	return s
}

// wantCondition waits for the volume's condition (lvmd reads the pool's
// figures once a poll, every second).
func (r *vmRig) wantCondition(t *testing.T, v vmVolume, abnormal bool, message string) {
	t.Helper()
	seen := ""
	vmEventually(t, fmt.Sprintf("condition %q on %s", message, v.id), func() bool {
		c := r.stats(t, v).GetVolumeCondition()
		if c.String() != seen { // each condition once, to show the way to the wanted one
			seen = c.String()
			t.Logf("condition of %s: %s", v.id, seen)
		}
		return c.GetAbnormal() == abnormal && c.GetMessage() == message
	})
}

// wantHealthy checks that the volume is reported healthy, with its usage.
func (r *vmRig) wantHealthy(t *testing.T, v vmVolume) {
	t.Helper()
	s := r.stats(t, v)
	if s.GetVolumeCondition().GetAbnormal() || len(s.Usage) == 0 || s.Usage[0].Used < 4*mib || s.Usage[0].Total < 32*mib {
		t.Errorf("stats of the healthy volume %s: %v", v.id, s)
	}
}

// devices lists the PVs an LV has extents on.
func (r *vmRig) devices(t *testing.T, lv string) string {
	t.Helper()
	return r.env.LVM(t, "lvs", "--noheadings", "-o", "devices", r.vg+"/"+lv)
}

// fill writes size bytes into the block device published at target and
// syncs: the first error, if any, is what a pod writing there would see.
func fill(target string, size int64) error {
	f, err := os.OpenFile(target, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	b := make([]byte, mib)
	for i := range b {
		b[i] = byte(i) | 1 // not zeros: a thin pool allocates for these
	}
	for off := int64(0); off < size; off += mib {
		if _, err := f.WriteAt(b, off); err != nil {
			return err
		}
	}
	return f.Sync()
}
