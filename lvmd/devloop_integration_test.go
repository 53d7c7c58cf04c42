//go:build integration

package lvmd_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	api "github.com/toposuite/toposuite/internal/daemonapi"
	"github.com/toposuite/toposuite/internal/testutil"
	"github.com/toposuite/toposuite/lvmd/config"
)

// loopsOver lists the loop devices whose backing device is dev.
func loopsOver(t testing.TB, dev string) []string {
	out := testutil.Run(t, nil, "losetup", "--noheadings", "--output", "NAME", "--associated", dev)
	return strings.Fields(out)
}

func blockSize(t testing.TB, dev string) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(testutil.Run(t, nil, "blockdev", "--getsize64", dev)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// newDevLoopRig is a rig whose lvmd runs the development loop activation;
// it also returns the PV, over which every loop device left is detached
// before the VG goes away.
func newDevLoopRig(t *testing.T) (*rig, string) {
	r := newRig(t, gib)
	pv := r.env.LVM(t, "pvs", "--noheadings", "-o", "pv_name", "-S", "vg_name="+r.vg)
	pv = strings.TrimSpace(pv)
	t.Cleanup(func() {
		for _, l := range loopsOver(t, pv) {
			testutil.DetachLoop(t, l)
		}
	})
	r.stop()
	r.cfg.Activation = config.ActivationDevelopmentLoop
	r.start()
	return r, pv
}

func TestIntegrationDevelopmentLoopActivation(t *testing.T) {
	testutil.RequireTools(t, "mkfs.ext4", "resize2fs", "e2fsck")
	r, pv := newDevLoopRig(t)
	c := testutil.Context(t)

	v, err := r.client.CreateVolume(c, &api.CreateVolumeRequest{Name: "dev1", SizeBytes: 64 * mib})
	if err != nil {
		t.Fatal(err)
	}
	dev := v.Volume.Path
	if !strings.HasPrefix(dev, "/dev/loop") || blockSize(t, dev) != 64*mib {
		t.Fatalf("path %q (size %d), want a 64 MiB loop device", dev, blockSize(t, dev))
	}
	// The real node path: mkfs, mount, write, read back.
	testutil.MkfsExt4(t, dev)
	mnt := testutil.Dir(t)
	testutil.Run(t, nil, "mount", dev, mnt)
	if err := os.WriteFile(filepath.Join(mnt, "hello"), []byte("data on an LV"), 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.Unmount(t, mnt)

	// Growing the LV grows its device; the filesystem follows (offline
	// here: online ext4 grow needs CAP_SYS_RESOURCE, TESTBED §1).
	g, err := r.client.ResizeVolume(c, &api.ResizeVolumeRequest{Name: "dev1", SizeBytes: 128 * mib})
	if err != nil {
		t.Fatal(err)
	}
	if g.Volume.Path != dev || blockSize(t, dev) != 128*mib {
		t.Fatalf("after resize: path %q size %d, want %s at 128 MiB", g.Volume.Path, blockSize(t, dev), dev)
	}
	testutil.Run(t, nil, "e2fsck", "-f", "-y", dev)
	testutil.Run(t, nil, "resize2fs", dev)
	testutil.Run(t, nil, "mount", dev, mnt)
	b, err := os.ReadFile(filepath.Join(mnt, "hello"))
	if err != nil || string(b) != "data on an LV" {
		t.Errorf("data after growth: %q, %v", b, err)
	}
	out := testutil.Run(t, nil, "df", "-B1", "--output=size", mnt)
	testutil.Unmount(t, mnt)
	if f := strings.Fields(out); len(f) < 2 {
		t.Errorf("df printed %q", out)
	} else if size, _ := strconv.ParseInt(f[1], 10, 64); size < 100*mib {
		t.Errorf("filesystem is %d bytes after growth, want over 100 MiB", size)
	}

	// A restarted lvmd finds the same device.
	r.stop()
	r.start()
	got, err := r.client.GetVolume(testutil.Context(t), &api.GetVolumeRequest{Name: "dev1"})
	if err != nil || got.Volume.Path != dev {
		t.Fatalf("after restart: %v, %v; want path %s", got, err, dev)
	}
	list, err := r.client.ListVolumes(testutil.Context(t), &api.ListVolumesRequest{})
	if err != nil || len(list.Volumes) != 1 || list.Volumes[0].Path != dev {
		t.Fatalf("list: %v, %v", list, err)
	}

	if _, err := r.client.RemoveVolume(testutil.Context(t), &api.RemoveVolumeRequest{Name: "dev1"}); err != nil {
		t.Fatal(err)
	}
	if l := loopsOver(t, pv); len(l) != 0 {
		t.Errorf("loop devices left over the PV after remove: %v", l)
	}
}

// lvSize is the size of vg/name in bytes, straight from LVM.
func (r *rig) lvSize(name string) int64 {
	out := r.env.LVM(r.t, "lvs", "--noheadings", "--units", "b", "--nosuffix", "-o", "lv_size", r.vg+"/"+name)
	n, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
	if err != nil {
		r.t.Fatalf("lv_size of %s: %q: %v", name, out, err)
	}
	return n
}

// A loop device maps one run of extents, so a volume followed by another
// cannot grow in place: the grow must fail with FailedPrecondition and leave
// the LV, its device and the capacity as they were; once room follows, the
// same grow moves the device too.
func TestIntegrationDevelopmentLoopGrowNeedsTheNextExtents(t *testing.T) {
	r, _ := newDevLoopRig(t)
	c := testutil.Context(t)
	dev := map[string]string{}
	for _, name := range []string{"first", "second"} {
		v, err := r.client.CreateVolume(c, &api.CreateVolumeRequest{Name: name, SizeBytes: 64 * mib})
		if err != nil {
			t.Fatal(err)
		}
		dev[name] = v.Volume.Path
	}
	before := r.available()

	_, err := r.client.ResizeVolume(c, &api.ResizeVolumeRequest{Name: "first", SizeBytes: 128 * mib})
	testutil.WantCode(t, err, codes.FailedPrecondition, "growing a volume with a neighbour after it")
	if err != nil && !strings.Contains(err.Error(), "contiguous") {
		t.Errorf("error %q does not say why", err)
	}
	if got := r.lvSize("first"); got != 64*mib {
		t.Errorf("LV is %d bytes after the refused grow, want 64 MiB", got)
	}
	if got := blockSize(t, dev["first"]); got != 64*mib {
		t.Errorf("device is %d bytes after the refused grow, want 64 MiB", got)
	}
	if got := r.available(); got != before {
		t.Errorf("available = %d after the refused grow, want %d", got, before)
	}
	g, err := r.client.GetVolume(c, &api.GetVolumeRequest{Name: "first"})
	if err != nil || g.Volume.SizeBytes != 64*mib || g.Volume.Path != dev["first"] {
		t.Errorf("volume after the refused grow: %v, %v", g, err)
	}

	// The last volume has free extents after it.
	v, err := r.client.ResizeVolume(c, &api.ResizeVolumeRequest{Name: "second", SizeBytes: 128 * mib})
	if err != nil {
		t.Fatal(err)
	}
	if v.Volume.Path != dev["second"] || blockSize(t, dev["second"]) != 128*mib || r.lvSize("second") != 128*mib {
		t.Errorf("second after grow: path %q, device %d bytes, LV %d bytes; want %s, 128 MiB", v.Volume.Path, blockSize(t, dev["second"]), r.lvSize("second"), dev["second"])
	}

	// With its neighbour gone, the first volume grows in place.
	if _, err := r.client.RemoveVolume(c, &api.RemoveVolumeRequest{Name: "second"}); err != nil {
		t.Fatal(err)
	}
	v, err = r.client.ResizeVolume(c, &api.ResizeVolumeRequest{Name: "first", SizeBytes: 128 * mib})
	if err != nil {
		t.Fatal(err)
	}
	if v.Volume.Path != dev["first"] || blockSize(t, dev["first"]) != 128*mib || r.lvSize("first") != 128*mib {
		t.Errorf("first after grow: path %q, device %d bytes, LV %d bytes; want %s, 128 MiB", v.Volume.Path, blockSize(t, dev["first"]), r.lvSize("first"), dev["first"])
	}
}

// A burst of creates and removes on one VG (which share their extent
// reports): every volume gets a device of its own over its own extents, the
// list shows the same devices, and removal leaves none behind.
func TestIntegrationDevelopmentLoopBurst(t *testing.T) {
	r, pv := newDevLoopRig(t)
	c := testutil.Context(t)
	const n = 12
	paths := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := r.client.CreateVolume(c, &api.CreateVolumeRequest{Name: fmt.Sprintf("b%02d", i), SizeBytes: int64(i+1) * 4 * mib})
			if err != nil {
				t.Error(err)
				return
			}
			paths[i] = v.Volume.Path
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	seen := map[string]bool{}
	for i, p := range paths {
		if seen[p] || !strings.HasPrefix(p, "/dev/loop") {
			t.Errorf("b%02d: path %q is not a loop device of its own", i, p)
		}
		seen[p] = true
		if got := blockSize(t, p); got != int64(i+1)*4*mib {
			t.Errorf("b%02d: device %s is %d bytes, want %d", i, p, got, int64(i+1)*4*mib)
		}
		// The device maps the LV's own extents: its offset is theirs.
		want := strings.TrimSpace(r.env.LVM(t, "lvs", "--noheadings", "-o", "seg_pe_ranges", r.vg+"/"+fmt.Sprintf("b%02d", i)))
		start, _, _ := strings.Cut(strings.TrimPrefix(want, pv+":"), "-")
		pe, err := strconv.ParseInt(start, 10, 64)
		if err != nil {
			t.Fatalf("seg_pe_ranges %q: %v", want, err)
		}
		off := strings.TrimSpace(testutil.Run(t, nil, "losetup", "--noheadings", "--output", "OFFSET", p))
		peStart := strings.TrimSpace(r.env.LVM(t, "pvs", "--noheadings", "--units", "b", "--nosuffix", "-o", "pe_start", pv))
		ps, _ := strconv.ParseInt(peStart, 10, 64)
		if off != strconv.FormatInt(ps+pe*4*mib, 10) {
			t.Errorf("b%02d: device %s at offset %s, its extents start at %d", i, p, off, ps+pe*4*mib)
		}
	}
	list, err := r.client.ListVolumes(c, &api.ListVolumesRequest{})
	if err != nil || len(list.Volumes) != n {
		t.Fatalf("list: %v, %v", list, err)
	}
	for _, v := range list.Volumes {
		var i int
		if _, err := fmt.Sscanf(v.Name, "b%02d", &i); err != nil || v.Path != paths[i] {
			t.Errorf("listed %s at %q, created at %q", v.Name, v.Path, paths[i])
		}
	}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := r.client.RemoveVolume(c, &api.RemoveVolumeRequest{Name: fmt.Sprintf("b%02d", i)}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if l := loopsOver(t, pv); len(l) != 0 {
		t.Errorf("loop devices left over the PV after the removals: %v", l)
	}
	if names := r.lvNames(); len(names) != 0 {
		t.Errorf("LVs left: %v", names)
	}
}

// Removing a volume whose name an LV not managed by lvmd has keeps that LV
// and the device someone else gave it.
func TestIntegrationDevelopmentLoopRemoveLeavesForeignDevices(t *testing.T) {
	r, pv := newDevLoopRig(t)
	c := testutil.Context(t)
	r.env.LVM(t, "lvcreate", "-y", "-n", "foreign", "-L", "8m", r.vg)
	peStart, _ := strconv.ParseInt(strings.TrimSpace(r.env.LVM(t, "pvs", "--noheadings", "--units", "b", "--nosuffix", "-o", "pe_start", pv)), 10, 64)
	dev := strings.TrimSpace(testutil.Run(t, nil, "losetup", "--find", "--show", "--offset", strconv.FormatInt(peStart, 10), "--sizelimit", strconv.FormatInt(8*mib, 10), pv))
	t.Cleanup(func() { testutil.DetachLoop(t, dev) })
	if _, err := r.client.RemoveVolume(c, &api.RemoveVolumeRequest{Name: "foreign"}); err != nil {
		t.Fatalf("remove of a foreign LV: %v (want success without removing)", err)
	}
	if l := loopsOver(t, pv); len(l) != 1 || l[0] != dev {
		t.Errorf("loop devices over the PV = %v, want the foreign LV's %s kept", l, dev)
	}
	if names := r.lvNames(); len(names) != 1 || names[0] != "foreign" {
		t.Errorf("LVs = %v, the foreign LV must survive", names)
	}
}

// A volume whose filesystem is still mounted is not removed, as real LVM
// refuses to remove an open LV: the kernel would detach its loop device
// only at the unmount, and a new volume on the freed extents would get the
// old filesystem's superblock written over its own then. Once unmounted,
// it goes.
func TestIntegrationDevelopmentLoopRemoveRefusedWhileMounted(t *testing.T) {
	testutil.RequireTools(t, "mkfs.ext4")
	r, pv := newDevLoopRig(t)
	c := testutil.Context(t)
	v, err := r.client.CreateVolume(c, &api.CreateVolumeRequest{Name: "mounted", SizeBytes: 16 * mib})
	if err != nil {
		t.Fatal(err)
	}
	dev := v.Volume.Path
	testutil.MkfsExt4(t, dev)
	mnt := testutil.Dir(t)
	testutil.Run(t, nil, "mount", dev, mnt)
	unmounted := false
	t.Cleanup(func() {
		if !unmounted {
			testutil.Unmount(t, mnt)
		}
	})
	_, err = r.client.RemoveVolume(c, &api.RemoveVolumeRequest{Name: "mounted"})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("remove of a mounted volume: %v, want FailedPrecondition", err)
	}
	if names := r.lvNames(); len(names) != 1 || names[0] != "mounted" {
		t.Errorf("LVs = %v after the refused removal, want the volume kept", names)
	}
	if l := loopsOver(t, pv); len(l) != 1 || l[0] != dev {
		t.Errorf("loop devices over the PV = %v, want %s kept", l, dev)
	}
	testutil.Unmount(t, mnt)
	unmounted = true
	if _, err := r.client.RemoveVolume(c, &api.RemoveVolumeRequest{Name: "mounted"}); err != nil {
		t.Fatalf("remove after the unmount: %v", err)
	}
	if names := r.lvNames(); len(names) != 0 {
		t.Errorf("LVs = %v, want none", names)
	}
	if l := loopsOver(t, pv); len(l) != 0 {
		t.Errorf("loop devices left over the PV: %v", l)
	}
}

// A volume's device detached behind lvmd's back, and its loop device
// reused for something else: removing the volume must leave that other
// device alone (lvmd checks what it remembered before acting on it).
func TestIntegrationDevelopmentLoopRemoveAfterDeviceReused(t *testing.T) {
	r, pv := newDevLoopRig(t)
	c := testutil.Context(t)
	v, err := r.client.CreateVolume(c, &api.CreateVolumeRequest{Name: "reused", SizeBytes: 8 * mib})
	if err != nil {
		t.Fatal(err)
	}
	dev := v.Volume.Path
	testutil.DetachLoop(t, dev)
	other := filepath.Join(testutil.Dir(t), "other.img")
	if err := os.WriteFile(other, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(other, 8*mib); err != nil {
		t.Fatal(err)
	}
	got := strings.TrimSpace(testutil.Run(t, nil, "losetup", "--show", dev, other))
	t.Cleanup(func() { testutil.DetachLoop(t, got) })
	if _, err := r.client.RemoveVolume(c, &api.RemoveVolumeRequest{Name: "reused"}); err != nil {
		t.Fatal(err)
	}
	back := strings.TrimSpace(testutil.Run(t, nil, "losetup", "--noheadings", "--output", "BACK-FILE", got))
	if back != other {
		t.Errorf("%s is backed by %q after the removal, want %s left alone", got, back, other)
	}
	if l := loopsOver(t, pv); len(l) != 0 {
		t.Errorf("loop devices left over the PV: %v", l)
	}
}

// lvmd chooses each new volume's extents from what it last read and did;
// an LV made behind its back on those extents makes LVM refuse them, and
// the create must still succeed, with a device over the volume's own
// extents and the other LV untouched.
func TestIntegrationDevelopmentLoopCreateAfterExtentsTakenBehindItsBack(t *testing.T) {
	r, pv := newDevLoopRig(t)
	c := testutil.Context(t)
	if _, err := r.client.CreateVolume(c, &api.CreateVolumeRequest{Name: "first", SizeBytes: 8 * mib}); err != nil {
		t.Fatal(err)
	}
	r.env.LVM(t, "lvcreate", "-y", "-n", "foreign", "-L", "8m", r.vg) // the extents after "first"
	v, err := r.client.CreateVolume(c, &api.CreateVolumeRequest{Name: "second", SizeBytes: 8 * mib})
	if err != nil {
		t.Fatal(err)
	}
	if got := blockSize(t, v.Volume.Path); got != 8*mib {
		t.Errorf("device %s is %d bytes, want 8 MiB", v.Volume.Path, got)
	}
	peStart, _ := strconv.ParseInt(strings.TrimSpace(r.env.LVM(t, "pvs", "--noheadings", "--units", "b", "--nosuffix", "-o", "pe_start", pv)), 10, 64)
	ranges := map[string]string{}
	for _, name := range []string{"first", "foreign", "second"} {
		ranges[name] = strings.TrimSpace(r.env.LVM(t, "lvs", "--noheadings", "-o", "seg_pe_ranges", r.vg+"/"+name))
	}
	start, _, _ := strings.Cut(strings.TrimPrefix(ranges["second"], pv+":"), "-")
	pe, err := strconv.ParseInt(start, 10, 64)
	if err != nil {
		t.Fatalf("extents of second %q: %v", ranges["second"], err)
	}
	off := strings.TrimSpace(testutil.Run(t, nil, "losetup", "--noheadings", "--output", "OFFSET", v.Volume.Path))
	if off != strconv.FormatInt(peStart+pe*4*mib, 10) {
		t.Errorf("second's device at offset %s, its extents (%s) start at %d", off, ranges["second"], peStart+pe*4*mib)
	}
	// Three runs of two extents each, none over another.
	seen := map[int64]string{}
	for name, r := range ranges {
		first, last, _ := strings.Cut(strings.TrimPrefix(r, pv+":"), "-")
		a, errA := strconv.ParseInt(first, 10, 64)
		b, errB := strconv.ParseInt(last, 10, 64)
		if errA != nil || errB != nil || b-a != 1 {
			t.Fatalf("extents of %s: %q", name, r)
		}
		for e := a; e <= b; e++ {
			if other, ok := seen[e]; ok {
				t.Errorf("extent %d is both %s's and %s's: %v", e, name, other, ranges)
			}
			seen[e] = name
		}
	}
	if names := r.lvNames(); len(names) != 3 {
		t.Errorf("LVs = %v, want first, foreign, second", names)
	}
	if _, err := r.client.RemoveVolume(c, &api.RemoveVolumeRequest{Name: "second"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.client.RemoveVolume(c, &api.RemoveVolumeRequest{Name: "first"}); err != nil {
		t.Fatal(err)
	}
	if l := loopsOver(t, pv); len(l) != 0 {
		t.Errorf("loop devices left over the PV: %v", l)
	}
}
