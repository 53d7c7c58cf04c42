//go:build vminner

package lvmd_test

// RAID10, RAID5 and striped volumes on four real disks, and RAID-aware
// capacity: the room lvmd reports for each layout is what LVM can really
// allocate, and a create that does not fit is refused before LVM is asked.

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	api "github.com/toposuite/toposuite/internal/daemonapi"
	"github.com/toposuite/toposuite/internal/testutil"
	"github.com/toposuite/toposuite/lvmd/config"
)

// vmFourDisks are the guest's disks when it has four (RAID10 needs four
// PVs for its two mirrored stripes).
var vmFourDisks = append(vmDisks[:3:3], "/dev/vdd")

// vmExtent is LVM's default extent size, which the rigs' VGs have.
const vmExtent = 4 * vmMiB

func TestVMRAID10RAID5AndStripes(t *testing.T) {
	r := newVMRig(t, vmRigSpec{
		disks: vmFourDisks,
		classes: []config.DeviceClass{
			{Name: "linear", Default: true},
			{Name: "striped", Stripes: 4, StripeSize: "64k"},
		},
		options: []config.OptionClass{
			{Name: "raid10", Options: []string{"--type=raid10", "-m", "1", "-i", "2"}},
			{Name: "raid5", Options: []string{"--type=raid5", "-i", "3"}},
		},
	})
	for i, tc := range []struct {
		oc, class, segtype string
		// legs are the areas on PVs of their own: images or stripes.
		legs int
	}{
		{oc: "raid10", segtype: "raid10", legs: 4},
		{oc: "raid5", segtype: "raid5", legs: 4},
		{class: "striped", segtype: "striped", legs: 4},
	} {
		name := tc.oc + tc.class
		t.Run(name, func(t *testing.T) {
			r.t = t
			seed := 20 + i
			// Small, so that the RAID syncs in seconds under emulation.
			v := r.create(&api.CreateVolumeRequest{Name: name, DeviceClass: tc.class, OptionsClass: tc.oc, SizeBytes: 48 * vmMiB})
			wantBlockDevice(t, v.Path, 48*vmMiB)
			r.wantListed(tc.class, name, v.Path)
			r.wantLayout(name, tc.segtype, tc.legs)
			writePattern(t, v.Path, 0, 48*vmMiB, seed)
			checkPattern(t, v.Path, 0, 48*vmMiB, seed)
			r.bookkeepingMatchesLVM()

			// Online grow of the active volume, its data in place.
			r.waitInSync(name)
			g, err := r.client.ResizeVolume(testutil.Context(t), &api.ResizeVolumeRequest{Name: name, DeviceClass: tc.class, SizeBytes: 96 * vmMiB})
			if err != nil {
				t.Fatalf("grow %s: %v", name, err)
			}
			if g.Volume.SizeBytes != 96*vmMiB {
				t.Errorf("grown to %d, want 96 MiB", g.Volume.SizeBytes)
			}
			wantBlockDevice(t, v.Path, 96*vmMiB)
			checkPattern(t, v.Path, 0, 48*vmMiB, seed)
			writePattern(t, v.Path, 48*vmMiB, 48*vmMiB, seed)
			checkPattern(t, v.Path, 48*vmMiB, 48*vmMiB, seed)
			r.wantLayout(name, tc.segtype, tc.legs)
			r.bookkeepingMatchesLVM()

			// With that volume in the VG, the room lvmd reports for the
			// layout is what one more create really gets.
			full := r.roomIsExact(tc.class, tc.oc, name+"full")
			r.wantLayout(name+"full", tc.segtype, tc.legs)
			r.remove(tc.class, name+"full")
			r.remove(tc.class, name)
			wantGone(t, v.Path, full.Path)
			r.bookkeepingMatchesLVM()
		})
	}
}

// A raid1 volume that the VG holds once but not twice: the second create
// is refused by lvmd, before LVM runs, and nothing is left; a smaller one
// that fits is placed.
func TestVMRAIDAwareRefusal(t *testing.T) {
	r := newVMRig(t, vmRigSpec{
		disks:   vmDisks[:2],
		classes: []config.DeviceClass{{Name: "linear", Default: true}},
		options: []config.OptionClass{{Name: "raid1", Options: []string{"--type=raid1", "-m", "1"}}},
	})
	c := testutil.Context(t)
	// Each image takes 150 extents and a metadata extent, on each of the
	// two PVs of 255 extents: the VG's 510 free extents hold two such
	// images (302 extents), not four.
	const size = 600 * vmMiB
	if room := r.capacity("linear").OptionsClassAvailableBytes["raid1"]; room < size || room >= 2*size {
		t.Fatalf("raid1 room of the empty VG = %d, want at least one 600 MiB volume and less than two", room)
	}
	first := r.create(&api.CreateVolumeRequest{Name: "first", OptionsClass: "raid1", SizeBytes: size})
	wantBlockDevice(t, first.Path, size)
	r.wantLayout("first", "raid1", 2)
	before := r.allLVs()

	_, err := r.client.CreateVolume(c, &api.CreateVolumeRequest{Name: "second", OptionsClass: "raid1", SizeBytes: size})
	testutil.WantCode(t, err, codes.ResourceExhausted, "a second raid1 volume the VG cannot hold")
	// lvmd's own refusal names the footprint (two images and their
	// metadata); LVM's would speak of extents.
	if msg := status.Convert(err).Message(); !strings.Contains(msg, "bytes available, the volume needs "+strconv.FormatInt(2*(size+vmExtent), 10)) {
		t.Errorf("refusal %q does not come from lvmd's footprint check", msg)
	}
	if after := r.allLVs(); !slices.Equal(before, after) {
		t.Errorf("the refused create left volumes: before %v, after %v", before, after)
	}
	if room := r.capacity("linear").OptionsClassAvailableBytes["raid1"]; room >= size {
		t.Errorf("raid1 room after the first volume = %d, which promises a second", room)
	}

	fits := r.create(&api.CreateVolumeRequest{Name: "fits", OptionsClass: "raid1", SizeBytes: 200 * vmMiB})
	wantBlockDevice(t, fits.Path, 200*vmMiB)
	r.wantLayout("fits", "raid1", 2)
	writePattern(t, fits.Path, 0, 16*vmMiB, 30)
	checkPattern(t, fits.Path, 0, 16*vmMiB, 30)
	r.bookkeepingMatchesLVM()
	last := r.roomIsExact("", "raid1", "last")
	for _, n := range []string{"last", "fits", "first"} {
		r.remove("", n)
	}
	wantGone(t, first.Path, fits.Path, last.Path)
	r.bookkeepingMatchesLVM()
}

// roomIsExact checks that the room lvmd reports for a layout (the options
// class oc of class, or the class's own layout when oc is empty) is what
// one more create can really take, after a poll: one extent more is
// refused with ResourceExhausted and leaves nothing behind, exactly the
// room is placed. It returns that volume, whose last MiB it has written.
func (r *vmRig) roomIsExact(class, oc, name string) *api.Volume {
	r.t.Helper()
	r.poll()
	cc := r.capacity(orDefault(class, "linear"))
	room := cc.AvailableBytes
	if oc != "" {
		room = cc.OptionsClassAvailableBytes[oc]
	}
	if room <= 0 {
		r.t.Fatalf("class %s, options class %q: no room reported", class, oc)
	}
	before := r.allLVs()
	_, err := r.client.CreateVolume(testutil.Context(r.t), &api.CreateVolumeRequest{Name: name + "over", DeviceClass: class, OptionsClass: oc, SizeBytes: room + vmExtent})
	testutil.WantCode(r.t, err, codes.ResourceExhausted, fmt.Sprintf("class %s, options class %q: one extent more than the %d bytes reported", class, oc, room))
	if after := r.allLVs(); !slices.Equal(before, after) {
		r.t.Errorf("the refused create left volumes: before %v, after %v", before, after)
	}
	v, err := r.client.CreateVolume(testutil.Context(r.t), &api.CreateVolumeRequest{Name: name, DeviceClass: class, OptionsClass: oc, SizeBytes: room})
	if err != nil {
		r.t.Fatalf("class %s, options class %q: a volume of the %d bytes reported: %v", class, oc, room, err)
	}
	wantBlockDevice(r.t, v.Volume.Path, room)
	writePattern(r.t, v.Volume.Path, room-vmMiB, vmMiB, 31)
	checkPattern(r.t, v.Volume.Path, room-vmMiB, vmMiB, 31)
	r.t.Logf("class %s, options class %q: room %d MiB reported, taken exactly", class, oc, room/vmMiB)
	r.bookkeepingMatchesLVM()
	return v.Volume
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// allLVs lists every LV of the rig's VG, hidden RAID images and metadata
// too, so that a leftover of a failed create shows.
func (r *vmRig) allLVs() []string {
	r.t.Helper()
	return strings.Fields(r.env.LVM(r.t, "lvs", "-a", "--noheadings", "-o", "lv_name", r.vg))
}

// wantLayout checks the segment type LVM gives lv and that its legs (RAID
// images, or stripes) are on that many different PVs.
func (r *vmRig) wantLayout(lv, segtype string, legs int) {
	r.t.Helper()
	if got := r.lvsField(r.vg+"/"+lv, "segtype"); got != segtype {
		r.t.Errorf("%s: segment type %q, want %q", lv, got, segtype)
	}
	var devices string
	if strings.HasPrefix(segtype, "raid") {
		// Each image is a hidden LV: lv_rimage_N on its PV(s).
		devices = r.env.LVM(r.t, "lvs", "-a", "--noheadings", "-o", "devices", "-S", "lv_name=~^"+lv+"_rimage_", r.vg)
	} else {
		devices = r.env.LVM(r.t, "lvs", "--noheadings", "-o", "devices", r.vg+"/"+lv)
	}
	// devices reads like "/dev/vda(9),/dev/vdb(9)", one line per image.
	pvs := map[string]bool{}
	n := 0
	for _, d := range strings.FieldsFunc(devices, func(c rune) bool { return c == ',' || c == '\n' || c == ' ' }) {
		pv, _, _ := strings.Cut(d, "(")
		pvs[pv] = true
		n++
	}
	if n != legs || len(pvs) != legs {
		r.t.Errorf("%s: %d areas on PVs %v, want %d on as many PVs (devices %q)", lv, n, pvs, legs, devices)
	}
}

// waitInSync waits until LVM reports lv's RAID images in sync (sync_percent
// 100): LVM refuses to resize a RAID volume that is still synchronising,
// and a new one is until the kernel has copied its images. Not a RAID
// volume: no wait.
func (r *vmRig) waitInSync(lv string) {
	r.t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		pct := r.lvsField(r.vg+"/"+lv, "sync_percent")
		if pct == "" || pct == "100.00" {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s still at %s%% in sync after 5 minutes", lv, pct)
		}
		time.Sleep(time.Second)
	}
}
