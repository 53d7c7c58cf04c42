//go:build vminner

package lvmd_test

// lvmd's production path on a real kernel: LVM's own activation and
// /dev/<vg>/<lv>, thin pools, thin and classic snapshots, RAID and stripes.
// These tests run only inside the VM lane's guest (lvmd/vm_test.go boots it,
// docs/testing.md "The VM lane"), on its virtio disks /dev/vda, /dev/vdb and
// /dev/vdc, which they share one after another: each builds its volume group
// and leaves the disks blank again.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"

	api "github.com/toposuite/toposuite/internal/daemonapi"
	"github.com/toposuite/toposuite/internal/testutil"
	"github.com/toposuite/toposuite/lvmd/config"
)

func TestVMThickVolumeLifecycle(t *testing.T) {
	r := newVMRig(t, vmRigSpec{disks: vmDisks[:1], classes: []config.DeviceClass{{Name: "ssd", Default: true}}})
	c := testutil.Context(t)

	v := r.create(&api.CreateVolumeRequest{Name: "thick", SizeBytes: 60 * vmMiB})
	dev := "/dev/" + r.vg + "/thick"
	if v.Path != dev || v.SizeBytes != 60*vmMiB {
		t.Fatalf("created %+v, want path %s and 60 MiB", v, dev)
	}
	wantBlockDevice(t, dev, 60*vmMiB)
	r.wantListed("", "thick", dev)
	r.bookkeepingMatchesLVM()

	testutil.MkfsExt4(t, dev)
	mnt := t.TempDir()
	testutil.Run(t, nil, "mount", dev, mnt)
	mounted := true
	t.Cleanup(func() {
		if mounted {
			testutil.Unmount(t, mnt)
		}
	})
	file := filepath.Join(mnt, "data")
	writePattern(t, file, 0, 16*vmMiB, 1)
	before := fsBytes(t, mnt)

	// Online grow, as the node plugin does it: the LV, then the mounted
	// ext4 (the host cannot do this part: it lacks CAP_SYS_RESOURCE).
	g, err := r.client.ResizeVolume(c, &api.ResizeVolumeRequest{Name: "thick", SizeBytes: 120 * vmMiB})
	if err != nil {
		t.Fatal(err)
	}
	if g.Volume.SizeBytes != 120*vmMiB {
		t.Errorf("resized to %d, want 120 MiB", g.Volume.SizeBytes)
	}
	wantBlockDevice(t, dev, 120*vmMiB)
	testutil.Run(t, nil, "resize2fs", dev)
	if after := fsBytes(t, mnt); after < before+50*vmMiB {
		t.Errorf("filesystem is %d bytes after the grow, was %d", after, before)
	}
	checkPattern(t, file, 0, 16*vmMiB, 1)
	r.bookkeepingMatchesLVM()

	// LVM refuses to remove an open LV; lvmd says so and keeps it.
	_, err = r.client.RemoveVolume(c, &api.RemoveVolumeRequest{Name: "thick"})
	if err == nil {
		t.Fatal("removing a mounted volume succeeded")
	}
	wantBlockDevice(t, dev, 120*vmMiB)
	testutil.Unmount(t, mnt)
	mounted = false
	r.remove("", "thick")
	wantGone(t, dev, "/dev/mapper/"+r.vg+"-thick")
	r.bookkeepingMatchesLVM()
}

func TestVMThinPoolCapacity(t *testing.T) {
	r := newVMRig(t, vmRigSpec{disks: vmDisks[:1], pool: 256 * vmMiB, classes: []config.DeviceClass{{
		Name: "thin", Default: true, Type: config.TypeThin,
		ThinPool: &config.ThinPool{Name: vmPool, OverprovisionRatio: 2},
	}}})
	c := testutil.Context(t)

	cc := r.capacity("thin")
	if cc.SizeBytes != 256*vmMiB || cc.AvailableBytes != 512*vmMiB {
		t.Fatalf("capacity of an empty pool: size %d, available %d; want 256 MiB and 2 x 256 MiB", cc.SizeBytes, cc.AvailableBytes)
	}
	v := r.create(&api.CreateVolumeRequest{Name: "thin1", SizeBytes: 384 * vmMiB})
	wantBlockDevice(t, v.Path, 384*vmMiB)
	if got := r.capacity("thin").AvailableBytes; got != 128*vmMiB {
		t.Errorf("available after a 384 MiB thin volume = %d, want 128 MiB", got)
	}

	// The overprovision limit is lvmd's (LVM would accept it): refused,
	// and nothing made.
	_, err := r.client.CreateVolume(c, &api.CreateVolumeRequest{Name: "thin2", SizeBytes: 132 * vmMiB})
	testutil.WantCode(t, err, codes.ResourceExhausted, "thin volume over the overprovision limit")
	if names := r.lvNames(); strings.Contains(" "+strings.Join(names, " ")+" ", " thin2 ") {
		t.Errorf("the refused volume exists: %v", names)
	}

	// Data written to the thin volume shows in the pool's figures once
	// lvmd reads LVM again, as LVM itself reports them.
	writePattern(t, v.Path, 0, 64*vmMiB, 2)
	r.poll()
	cc = r.capacity("thin")
	lvmPct := r.lvsFloat(r.vg+"/"+vmPool, "data_percent")
	if cc.ThinPool.DataPercent < 24 || cc.ThinPool.DataPercent > 30 {
		t.Errorf("pool data after writing 64 MiB of 256 MiB = %.2f%%, want about 25%%", cc.ThinPool.DataPercent)
	}
	if cc.ThinPool.DataPercent != lvmPct {
		t.Errorf("lvmd says the pool is %.2f%% full, LVM says %.2f%%", cc.ThinPool.DataPercent, lvmPct)
	}
	got, err := r.client.GetVolume(c, &api.GetVolumeRequest{Name: "thin1"})
	if err != nil {
		t.Fatal(err)
	}
	if u := got.Volume.GetUsedBytes(); u < 63*vmMiB || u > 65*vmMiB {
		t.Errorf("used bytes of the thin volume = %d, want about 64 MiB", u)
	}

	// Exactly the limit fits; a byte beyond it does not.
	r.remove("", "thin1")
	r.poll()
	if got := r.capacity("thin").AvailableBytes; got != 512*vmMiB {
		t.Errorf("available after removal = %d, want 512 MiB", got)
	}
	r.create(&api.CreateVolumeRequest{Name: "full", SizeBytes: 512 * vmMiB})
	_, err = r.client.CreateVolume(c, &api.CreateVolumeRequest{Name: "over", SizeBytes: vmMiB})
	testutil.WantCode(t, err, codes.ResourceExhausted, "thin volume in a pool at its limit")
	r.bookkeepingMatchesLVM()
	r.remove("", "full")
}

func TestVMThinSnapshotAndRestore(t *testing.T) {
	r := newVMRig(t, vmRigSpec{disks: vmDisks[:1], pool: 256 * vmMiB, classes: []config.DeviceClass{{
		Name: "thin", Default: true, Type: config.TypeThin,
		ThinPool: &config.ThinPool{Name: vmPool, OverprovisionRatio: 4},
	}}})
	c := testutil.Context(t)
	src := r.create(&api.CreateVolumeRequest{Name: "src", SizeBytes: 64 * vmMiB})
	writePattern(t, src.Path, 0, 64*vmMiB, 3)

	s, err := r.client.CreateSnapshot(c, &api.CreateSnapshotRequest{Name: "snap", SourceName: "src", ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	snap := s.Volume
	if !snap.Snapshot || !snap.ReadOnly || snap.Source != "src" || snap.Path != "/dev/"+r.vg+"/snap" {
		t.Errorf("snapshot = %+v", snap)
	}
	wantBlockDevice(t, snap.Path, 64*vmMiB)
	wantReadOnly(t, snap.Path)
	// The source moves on; the snapshot keeps the data of its moment.
	writePattern(t, src.Path, 0, 16*vmMiB, 4)
	checkPattern(t, snap.Path, 0, 64*vmMiB, 3)

	// Restore: a writable volume from the snapshot, bigger than it, as a
	// PVC restored with a larger size asks.
	rs, err := r.client.CreateSnapshot(c, &api.CreateSnapshotRequest{Name: "restored", SourceName: "snap", SizeBytes: 96 * vmMiB})
	if err != nil {
		t.Fatal(err)
	}
	restored := rs.Volume
	if restored.ReadOnly || restored.SizeBytes != 96*vmMiB {
		t.Errorf("restored volume = %+v, want writable and 96 MiB", restored)
	}
	wantBlockDevice(t, restored.Path, 96*vmMiB)
	sameBytes(t, snap.Path, restored.Path, 64*vmMiB)
	writePattern(t, restored.Path, 0, vmMiB, 5)
	checkPattern(t, restored.Path, 0, vmMiB, 5)
	checkPattern(t, snap.Path, 0, 64*vmMiB, 3)
	checkPattern(t, src.Path, 0, 16*vmMiB, 4)
	r.bookkeepingMatchesLVM()

	for _, n := range []string{"restored", "snap", "src"} {
		r.remove("", n)
		wantGone(t, "/dev/"+r.vg+"/"+n)
	}
}

func TestVMThickSnapshot(t *testing.T) {
	r := newVMRig(t, vmRigSpec{disks: vmDisks[:1], classes: []config.DeviceClass{{Name: "ssd", Default: true}}})
	c := testutil.Context(t)
	origin := r.create(&api.CreateVolumeRequest{Name: "origin", SizeBytes: 64 * vmMiB})
	writePattern(t, origin.Path, 0, 64*vmMiB, 6)
	availBefore := r.capacity("ssd").AvailableBytes

	s, err := r.client.CreateSnapshot(c, &api.CreateSnapshotRequest{Name: "csnap", SourceName: "origin", SizeBytes: 32 * vmMiB, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	snap := s.Volume
	if !snap.Snapshot || snap.Source != "origin" || snap.SizeBytes != 64*vmMiB {
		t.Errorf("snapshot = %+v, want a snapshot of origin presenting 64 MiB", snap)
	}
	// The snapshot device shows the origin's size; its 32 MiB are the
	// copy-on-write space, which is what the class gives up.
	wantBlockDevice(t, snap.Path, 64*vmMiB)
	if got := r.capacity("ssd").AvailableBytes; got != availBefore-32*vmMiB {
		t.Errorf("available after a 32 MiB classic snapshot = %d, want %d", got, availBefore-32*vmMiB)
	}
	r.bookkeepingMatchesLVM()

	writePattern(t, origin.Path, 0, 16*vmMiB, 7)
	checkPattern(t, snap.Path, 0, 64*vmMiB, 6)
	checkPattern(t, origin.Path, 0, 16*vmMiB, 7)
	checkPattern(t, origin.Path, 16*vmMiB, 48*vmMiB, 6)

	// LVM would take the snapshot with its origin: lvmd refuses instead.
	_, err = r.client.RemoveVolume(c, &api.RemoveVolumeRequest{Name: "origin"})
	testutil.WantCode(t, err, codes.FailedPrecondition, "removing the origin of a classic snapshot")
	r.remove("", "csnap")
	r.remove("", "origin")
	wantGone(t, "/dev/"+r.vg+"/csnap", "/dev/"+r.vg+"/origin", "/dev/mapper/"+r.vg+"-origin-real", "/dev/mapper/"+r.vg+"-csnap-cow")
	r.bookkeepingMatchesLVM()
}

func TestVMRAID1AndStripes(t *testing.T) {
	r := newVMRig(t, vmRigSpec{
		disks: vmDisks[:3],
		classes: []config.DeviceClass{
			{Name: "linear", Default: true},
			{Name: "striped", Stripes: 3, StripeSize: "64k"},
		},
		options: []config.OptionClass{{Name: "raid1", Options: []string{"--type=raid1", "-m", "1"}}},
	})

	st := r.create(&api.CreateVolumeRequest{Name: "st", DeviceClass: "striped", SizeBytes: 90 * vmMiB})
	if st.SizeBytes != 96*vmMiB { // whole extents on each of the 3 stripes
		t.Errorf("striped volume is %d bytes, want 96 MiB", st.SizeBytes)
	}
	wantBlockDevice(t, st.Path, 96*vmMiB)
	if got := r.lvsField(r.vg+"/st", "segtype,stripes,stripe_size"); got != "striped 3 64.00k" {
		t.Errorf("striped volume's layout = %q, want striped over 3 PVs, 64k", got)
	}
	writePattern(t, st.Path, 0, 96*vmMiB, 8)
	checkPattern(t, st.Path, 0, 96*vmMiB, 8)

	avail := r.capacity("linear").OptionsClassAvailableBytes["raid1"]
	mirror := r.create(&api.CreateVolumeRequest{Name: "mirror", OptionsClass: "raid1", SizeBytes: 64 * vmMiB})
	wantBlockDevice(t, mirror.Path, 64*vmMiB)
	if got := r.lvsField(r.vg+"/mirror", "segtype,stripes"); got != "raid1 2" {
		t.Errorf("raid1 volume's layout = %q, want raid1 with 2 images", got)
	}
	// devices reads like /dev/vda(9): the PV and the first extent; -a
	// shows the hidden image LVs.
	img0 := strings.TrimSpace(r.env.LVM(t, "lvs", "-a", "--noheadings", "-o", "devices", r.vg+"/mirror_rimage_0"))
	img1 := strings.TrimSpace(r.env.LVM(t, "lvs", "-a", "--noheadings", "-o", "devices", r.vg+"/mirror_rimage_1"))
	pv0, _, _ := strings.Cut(img0, "(")
	pv1, _, _ := strings.Cut(img1, "(")
	if pv0 == "" || pv0 == pv1 {
		t.Errorf("raid1 images on %q and %q, want two PVs", img0, img1)
	}
	r.wantListed("", "mirror", mirror.Path)
	r.wantListed("striped", "st", st.Path)
	if avail < 64*vmMiB {
		t.Errorf("raid1 room before the create = %d, want at least 64 MiB", avail)
	}
	// Two images of 64 MiB plus a metadata extent each, as LVM counts them.
	r.bookkeepingMatchesLVM()
	writePattern(t, mirror.Path, 0, 64*vmMiB, 9)
	checkPattern(t, mirror.Path, 0, 64*vmMiB, 9)

	// Growing it takes the growth once per image.
	g, err := r.client.ResizeVolume(testutil.Context(t), &api.ResizeVolumeRequest{Name: "mirror", SizeBytes: 96 * vmMiB})
	if err != nil {
		t.Fatal(err)
	}
	if g.Volume.SizeBytes != 96*vmMiB {
		t.Errorf("raid1 volume grown to %d, want 96 MiB", g.Volume.SizeBytes)
	}
	wantBlockDevice(t, mirror.Path, 96*vmMiB)
	checkPattern(t, mirror.Path, 0, 64*vmMiB, 9)
	// The growth is booked once per image, as LVM takes it.
	r.bookkeepingMatchesLVM()

	// An options class is the whole layout, also on a striped class: a
	// raid1 volume there is raid1, not raid1 with the class's stripes
	// (which LVM refuses).
	sm := r.create(&api.CreateVolumeRequest{Name: "stmirror", DeviceClass: "striped", OptionsClass: "raid1", SizeBytes: 32 * vmMiB})
	wantBlockDevice(t, sm.Path, 32*vmMiB)
	if got := r.lvsField(r.vg+"/stmirror", "segtype,stripes"); got != "raid1 2" {
		t.Errorf("raid1 volume of the striped class: layout %q, want raid1 with 2 images", got)
	}
	r.bookkeepingMatchesLVM()
	r.remove("striped", "stmirror")

	r.remove("", "mirror")
	r.remove("striped", "st")
	wantGone(t, mirror.Path, st.Path, sm.Path, "/dev/mapper/"+r.vg+"-mirror_rimage_0", "/dev/mapper/"+r.vg+"-mirror_rmeta_1")
	// The poll before the removals read the raid1 volume: it must know its
	// images and metadata (its options class is tagged), so that its
	// removal gives all of them back.
	r.bookkeepingMatchesLVM()
}

// vmDisks are the guest's virtio disks, in the order qemu attaches them.
var vmDisks = []string{"/dev/vda", "/dev/vdb", "/dev/vdc"}

const (
	vmMiB  = int64(1) << 20
	vmPool = "pool0"
)

// wantBlockDevice checks that path is a block device of size bytes, as the
// kernel sees it (/sys/dev/block/<major>:<minor>/size, in 512-byte
// sectors). Without udev, libdevmapper makes /dev/mapper/<vg>-<lv> a node of
// its own rather than a link to /dev/dm-N, so the number finds it.
func wantBlockDevice(t *testing.T, path string, size int64) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatalf("device %s: %v", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFBLK {
		t.Fatalf("%s is not a block device (mode %o)", path, st.Mode)
	}
	b, err := os.ReadFile(fmt.Sprintf("/sys/dev/block/%d:%d/size", unix.Major(st.Rdev), unix.Minor(st.Rdev)))
	if err != nil {
		t.Fatal(err)
	}
	sectors, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	if sectors*512 != size {
		t.Errorf("%s is %d bytes, want %d", path, sectors*512, size)
	}
}

// wantReadOnly checks that the kernel holds the device read-only: the flag
// is set and a write fails (opening for writing alone succeeds).
func wantReadOnly(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if ro, err := unix.IoctlGetInt(int(f.Fd()), unix.BLKROGET); err != nil || ro != 1 {
		t.Errorf("%s: BLKROGET = %d, %v; want 1", path, ro, err)
	}
	if _, err := f.WriteAt(make([]byte, 4096), 0); err == nil {
		t.Errorf("%s: a write to the read-only device succeeded", path)
	}
}

// wantGone checks that the device nodes are gone.
func wantGone(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still exists (%v)", p, err)
		}
	}
}

// fsBytes is the size of the filesystem mounted at dir.
func fsBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Blocks) * st.Bsize
}

// A new volume on extents that held a filesystem shows no filesystem: the
// node plugin formats a volume only when it finds none, so a leftover
// superblock would hand the previous tenant's files to the next claim.
// LVM's activation wipes known signatures of a new LV (lvm.conf's
// wipe_signatures_when_zeroing_new_lvs and the first 4 KiB zeroed).
func TestVMRecycledExtentsShowNoFilesystem(t *testing.T) {
	r := newVMRig(t, vmRigSpec{disks: vmDisks[:1], classes: []config.DeviceClass{{Name: "ssd", Default: true}}})
	for _, fs := range []string{"ext4", "xfs"} {
		v := r.create(&api.CreateVolumeRequest{Name: "old" + fs, SizeBytes: 320 * vmMiB})
		extents := r.lvsField(r.vg+"/old"+fs, "seg_pe_ranges")
		testutil.Run(t, nil, "mkfs."+fs, "-q", v.Path)
		if out, err := testutil.RunErr(nil, "blkid", "-p", "-o", "value", "-s", "TYPE", v.Path); err != nil || strings.TrimSpace(out) != fs {
			t.Fatalf("%s: blkid on the formatted volume = %q, %v", fs, out, err)
		}
		r.remove("", "old"+fs)
		n := r.create(&api.CreateVolumeRequest{Name: "new" + fs, SizeBytes: 320 * vmMiB})
		if got := r.lvsField(r.vg+"/new"+fs, "seg_pe_ranges"); got != extents {
			t.Fatalf("%s: the new volume is on %s, not on the old one's extents %s: the test proves nothing", fs, got, extents)
		}
		if out, err := testutil.RunErr(nil, "blkid", "-p", n.Path); err == nil || strings.TrimSpace(out) != "" {
			t.Errorf("%s: a new volume on the extents of a removed %s volume shows a filesystem: %q (%v)", fs, fs, out, err)
		}
		r.remove("", "new"+fs)
	}
}
