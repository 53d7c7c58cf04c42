//go:build vminner

package lvmd_test

// Restoring a thick (classic) snapshot: LVM cannot snapshot a snapshot, so
// lvmd copies the snapshot's bytes into a new volume. Runs in the VM lane
// (lvmd/vm_test.go), where thick snapshots exist.

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	api "github.com/toposuite/toposuite/internal/daemonapi"
	"github.com/toposuite/toposuite/internal/testutil"
	"github.com/toposuite/toposuite/lvmd/config"
)

const copyingTag = "toposuite.io/copying"

func TestVMThickSnapshotRestoreIsAFullCopy(t *testing.T) {
	r := newVMRig(t, vmRigSpec{disks: vmDisks[:1], classes: []config.DeviceClass{{Name: "ssd", Default: true}}})
	c := testutil.Context(t)
	origin := r.create(&api.CreateVolumeRequest{Name: "origin", SizeBytes: 64 * vmMiB})
	writePattern(t, origin.Path, 0, 64*vmMiB, 11)
	if _, err := r.client.CreateSnapshot(c, &api.CreateSnapshotRequest{Name: "csnap", SourceName: "origin", SizeBytes: 32 * vmMiB, ReadOnly: true}); err != nil {
		t.Fatal(err)
	}
	// Written after the snapshot: the restore must not see it.
	writePattern(t, origin.Path, 0, 16*vmMiB, 12)

	// Smaller than the snapshot: refused, and nothing is made.
	_, err := r.client.CreateSnapshot(c, &api.CreateSnapshotRequest{Name: "small", SourceName: "csnap", SizeBytes: 32 * vmMiB})
	testutil.WantCode(t, err, codes.InvalidArgument, "a restore smaller than its snapshot")
	// A snapshot of a thick snapshot stays impossible.
	_, err = r.client.CreateSnapshot(c, &api.CreateSnapshotRequest{Name: "snapsnap", SourceName: "csnap", SizeBytes: 32 * vmMiB, ReadOnly: true})
	testutil.WantCode(t, err, codes.FailedPrecondition, "a read-only snapshot of a thick snapshot")
	for _, n := range r.lvNames() {
		if n == "small" || n == "snapsnap" {
			t.Errorf("a refused request left volume %s", n)
		}
	}

	availBefore := r.capacity("ssd").AvailableBytes
	start := time.Now()
	req := &api.CreateSnapshotRequest{Name: "restored", SourceName: "csnap", SizeBytes: 96 * vmMiB, OwnerUid: "3f0c1b9e-0000-4000-8000-000000000001"}
	resp, err := r.client.CreateSnapshot(c, req)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("restore of a 64 MiB thick snapshot into a 96 MiB volume took %v (%.1f MB/s over the snapshot's bytes)", took.Round(time.Millisecond), float64(64*vmMiB)/1e6/took.Seconds())
	v := resp.Volume
	if v.SizeBytes != 96*vmMiB || v.Snapshot || v.ReadOnly || v.Path != "/dev/"+r.vg+"/restored" || v.Health != api.VolumeHealth_VOLUME_HEALTH_HEALTHY {
		t.Errorf("restored = %+v, want a healthy writable 96 MiB volume at /dev/%s/restored", v, r.vg)
	}
	wantBlockDevice(t, v.Path, 96*vmMiB)
	checkPattern(t, v.Path, 0, 64*vmMiB, 11)
	wantZeros(t, v.Path, 64*vmMiB, 32*vmMiB)
	// A full copy takes its whole size from the class.
	if got := r.capacity("ssd").AvailableBytes; got != availBefore-96*vmMiB {
		t.Errorf("available after restoring into 96 MiB = %d, want %d", got, availBefore-96*vmMiB)
	}
	r.bookkeepingMatchesLVM()
	if tags := r.lvsField(r.vg+"/restored", "lv_tags"); strings.Contains(tags, copyingTag) || !strings.Contains(tags, "toposuite.io/copy-of=csnap") {
		t.Errorf("tags of a finished copy: %s", tags)
	}
	r.wantListed("", "restored", v.Path)

	// The copy is a volume of its own: writing it changes neither the
	// snapshot nor the origin, and it snapshots like any volume.
	writePattern(t, v.Path, 0, 8*vmMiB, 13)
	checkPattern(t, "/dev/"+r.vg+"/csnap", 0, 64*vmMiB, 11)
	checkPattern(t, origin.Path, 0, 16*vmMiB, 12)
	if _, err := r.client.CreateSnapshot(c, &api.CreateSnapshotRequest{Name: "rsnap", SourceName: "restored", SizeBytes: 16 * vmMiB, ReadOnly: true}); err != nil {
		t.Errorf("snapshot of the restored volume: %v", err)
	} else {
		r.remove("", "rsnap")
	}

	// The same restore again is the same volume, untouched.
	again, err := r.client.CreateSnapshot(c, req)
	if err != nil || again.Volume.SizeBytes != 96*vmMiB {
		t.Fatalf("retried restore: %v, %v", again, err)
	}
	checkPattern(t, v.Path, 0, 8*vmMiB, 13)
	// Another owner does not get it.
	other := &api.CreateSnapshotRequest{Name: req.Name, SourceName: req.SourceName, SizeBytes: req.SizeBytes, OwnerUid: "3f0c1b9e-0000-4000-8000-000000000002"}
	_, err = r.client.CreateSnapshot(c, other)
	testutil.WantCode(t, err, codes.FailedPrecondition, "the same restore for another owner")

	// lvmd stopped in the middle of the copy: the volume carries the
	// copying tag (set here by hand, as the crash would have left it) and
	// holds anything. It is not reported healthy, a plain create of that
	// name does not adopt it, and the same restore asked again copies again.
	r.env.LVM(t, "lvchange", "--addtag", copyingTag, r.vg+"/restored")
	fillByte(t, v.Path, 96*vmMiB, 0xA5)
	got, err := r.client.GetVolume(c, &api.GetVolumeRequest{Name: "restored"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Volume.Health == api.VolumeHealth_VOLUME_HEALTH_HEALTHY {
		t.Errorf("an unfinished copy is reported healthy: %+v", got.Volume)
	}
	_, err = r.client.CreateVolume(c, &api.CreateVolumeRequest{Name: "restored", SizeBytes: 96 * vmMiB, OwnerUid: req.OwnerUid})
	testutil.WantCode(t, err, codes.AlreadyExists, "a plain create naming an unfinished copy")
	if _, err := r.client.CreateSnapshot(c, req); err != nil {
		t.Fatalf("restore retried after a crash: %v", err)
	}
	checkPattern(t, v.Path, 0, 64*vmMiB, 11)
	wantZeros(t, v.Path, 64*vmMiB, 32*vmMiB)
	if tags := r.lvsField(r.vg+"/restored", "lv_tags"); strings.Contains(tags, copyingTag) {
		t.Errorf("the copy redone after a crash is still tagged unfinished: %s", tags)
	}
	r.wantListed("", "restored", v.Path)

	r.remove("", "restored")
	r.remove("", "csnap")
	r.remove("", "origin")
	r.bookkeepingMatchesLVM()
}

// The copy's speed on a bigger snapshot (lvmd logs the copy's own MB/s
// too), and that every byte arrives.
func TestVMThickSnapshotRestoreOf256MiB(t *testing.T) {
	r := newVMRig(t, vmRigSpec{disks: vmDisks[:1], classes: []config.DeviceClass{{Name: "ssd", Default: true}}})
	c := testutil.Context(t)
	const size = 256 * vmMiB
	origin := r.create(&api.CreateVolumeRequest{Name: "big", SizeBytes: size})
	fillByte(t, origin.Path, size, 0x5A)
	if _, err := r.client.CreateSnapshot(c, &api.CreateSnapshotRequest{Name: "bigsnap", SourceName: "big", SizeBytes: 16 * vmMiB, ReadOnly: true}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, err := r.client.CreateSnapshot(c, &api.CreateSnapshotRequest{Name: "bigcopy", SourceName: "bigsnap", SizeBytes: size})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("restore of a %d MiB thick snapshot took %v: %.1f MB/s", size/vmMiB, took.Round(time.Millisecond), float64(size)/1e6/took.Seconds())
	wantOnly(t, resp.Volume.Path, 0x5A, 0, size)
	r.remove("", "bigcopy")
	r.remove("", "bigsnap")
	r.remove("", "big")
}
