//go:build vminner

package lvmd_test

// The rig of the VM lane's tests: a volume group on the guest's disks with
// lvmd serving it as in production (LVM's activation, lvm shells), and the
// data helpers that check what the block devices really hold.

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/toposuite/toposuite/internal/daemon"
	api "github.com/toposuite/toposuite/internal/daemonapi"
	"github.com/toposuite/toposuite/internal/testutil"
	"github.com/toposuite/toposuite/lvmd"
	"github.com/toposuite/toposuite/lvmd/config"
)

type vmRigSpec struct {
	disks []string
	// vg, when set, is a volume group made before (by lvmd prepare, in
	// env): the rig serves it rather than making one, and leaves its
	// removal to whoever made it.
	vg  string
	env *testutil.LVMEnv
	// pool, when set, is the size of a thin pool named vmPool made before
	// lvmd starts (lvmd serves pools, it does not make them).
	pool int64
	// classes get the rig's volume group; thick ones keep no spare unless set.
	classes []config.DeviceClass
	options []config.OptionClass
}

type vmRig struct {
	t      *testing.T
	env    *testutil.LVMEnv
	vg     string
	inst   *daemon.Instance
	client api.StorageDaemonClient
	// striped names the thick classes with stripes: their available bytes
	// are the largest striped volume, which depends on each PV's room.
	striped map[string]bool
}

func newVMRig(t *testing.T, spec vmRigSpec) *vmRig {
	t.Helper()
	if os.Getenv("TOPOSUITE_IN_VM") != "1" {
		t.Skip("runs in the VM lane only (make test-vm)")
	}
	if !testutil.DeviceMapper() {
		t.Fatal("the VM's kernel has no device-mapper")
	}
	env, vg := spec.env, spec.vg
	if vg == "" {
		env = testutil.NewLVMEnv(t, spec.disks...)
		vg = testutil.UniqueName("vmvg")
		env.VG(t, vg, spec.disks...)
	}
	if spec.pool > 0 {
		env.LVM(t, "lvcreate", "-y", "-T", "-L", strconv.FormatInt(spec.pool, 10)+"b", vg+"/"+vmPool)
	}
	cfg := &config.Config{
		// The rig polls itself (poll) so that each figure is read when the
		// test says.
		Settings:              daemon.Settings{SocketName: filepath.Join(t.TempDir(), "lvmd.sock"), PollInterval: &metav1.Duration{Duration: time.Hour}},
		LVM:                   config.LVMSettings{Path: "lvm", Env: env.EnvMap()},
		LvcreateOptionClasses: spec.options,
	}
	striped := map[string]bool{}
	for _, dc := range spec.classes {
		dc.VolumeGroup = vg
		striped[dc.Name] = dc.Stripes > 1
		if dc.Type != config.TypeThin && dc.Spare == nil {
			zero := resource.MustParse("0")
			dc.Spare = &zero
		}
		cfg.DeviceClasses = append(cfg.DeviceClasses, dc)
	}
	cfg.Default()
	ctx, cancel := context.WithCancel(context.Background())
	inst, err := lvmd.Start(ctx, cfg, testr.NewWithInterface(t, testr.Options{}))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	conn, closeConn, err := daemon.InProcess(inst.Server)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { closeConn(); cancel() })
	return &vmRig{t: t, env: env, vg: vg, inst: inst, client: api.NewStorageDaemonClient(conn), striped: striped}
}

func (r *vmRig) create(req *api.CreateVolumeRequest) *api.Volume {
	r.t.Helper()
	v, err := r.client.CreateVolume(testutil.Context(r.t), req)
	if err != nil {
		r.t.Fatalf("create %s: %v", req.Name, err)
	}
	return v.Volume
}

// remove removes a volume of class ("" for the default): a volume is
// known by class and name, and one asked for in another class is, for
// lvmd, already gone.
func (r *vmRig) remove(class, name string) {
	r.t.Helper()
	if _, err := r.client.RemoveVolume(testutil.Context(r.t), &api.RemoveVolumeRequest{Name: name, DeviceClass: class}); err != nil {
		r.t.Fatalf("remove %s: %v", name, err)
	}
}

// wantListed checks that GetVolume and ListVolumes show the volume healthy
// at its device.
func (r *vmRig) wantListed(class, name, path string) {
	r.t.Helper()
	c := testutil.Context(r.t)
	got, err := r.client.GetVolume(c, &api.GetVolumeRequest{Name: name, DeviceClass: class})
	if err != nil {
		r.t.Fatal(err)
	}
	if v := got.Volume; v.Path != path || v.Health != api.VolumeHealth_VOLUME_HEALTH_HEALTHY {
		r.t.Errorf("get %s: path %q, health %v (%s); want %s, healthy", name, v.Path, v.Health, v.HealthMessage, path)
	}
	list, err := r.client.ListVolumes(c, &api.ListVolumesRequest{DeviceClass: class})
	if err != nil {
		r.t.Fatal(err)
	}
	for _, v := range list.Volumes {
		if v.Name == name {
			if v.Path != path || v.Health != api.VolumeHealth_VOLUME_HEALTH_HEALTHY {
				r.t.Errorf("list %s: path %q, health %v (%s); want %s, healthy", name, v.Path, v.Health, v.HealthMessage, path)
			}
			return
		}
	}
	r.t.Errorf("list of class %q lacks %s", class, name)
}

// poll has lvmd read LVM now, as its poll does every second in production.
func (r *vmRig) poll() {
	r.t.Helper()
	r.inst.Hub.Poll(testutil.Context(r.t))
	if err := r.inst.Hub.Err(); err != nil {
		r.t.Fatalf("lvmd's poll: %v", err)
	}
}

func (r *vmRig) capacities() map[string]*api.ClassCapacity {
	r.t.Helper()
	resp, err := r.client.GetCapacity(testutil.Context(r.t), &api.GetCapacityRequest{})
	if err != nil {
		r.t.Fatal(err)
	}
	out := map[string]*api.ClassCapacity{}
	for _, c := range resp.Classes {
		out[c.Name] = c
	}
	return out
}

func (r *vmRig) capacity(class string) *api.ClassCapacity {
	r.t.Helper()
	c, ok := r.capacities()[class]
	if !ok {
		r.t.Fatalf("no capacity for class %q", class)
	}
	return c
}

// bookkeepingMatchesLVM checks that what lvmd computed from its own
// changes (footprints of RAID, stripes, snapshots, thin volumes) is what
// LVM reports once lvmd reads it again.
func (r *vmRig) bookkeepingMatchesLVM() {
	r.t.Helper()
	for _, p := range r.bookkeepingProblems() {
		r.t.Error(p)
	}
}

// bookkeepingProblems compares lvmd's figures before and after a poll.
// Sizes, thin figures and the free bytes of a thick class must be equal.
// Figures that depend on where LVM put extents on each PV (the largest
// striped or RAID volume) are, between polls, lvmd's worst case: they may
// be lower than LVM's, never higher.
func (r *vmRig) bookkeepingProblems() []string {
	r.t.Helper()
	before := r.capacities()
	r.poll()
	var out []string
	for name, after := range r.capacities() {
		b := before[name]
		perPV := after.ThinPool == nil && r.striped[name]
		switch {
		case b.GetSizeBytes() != after.SizeBytes,
			b.GetThinPool().GetVirtualBytes() != after.GetThinPool().GetVirtualBytes(),
			!perPV && b.GetAvailableBytes() != after.AvailableBytes,
			perPV && b.GetAvailableBytes() > after.AvailableBytes:
			out = append(out, fmt.Sprintf("class %s: lvmd's bookkeeping said size %d, available %d, thin virtual %d; LVM says %d, %d, %d",
				name, b.GetSizeBytes(), b.GetAvailableBytes(), b.GetThinPool().GetVirtualBytes(),
				after.SizeBytes, after.AvailableBytes, after.GetThinPool().GetVirtualBytes()))
		}
		for oc, room := range after.OptionsClassAvailableBytes {
			if said := b.GetOptionsClassAvailableBytes()[oc]; said > room {
				out = append(out, fmt.Sprintf("class %s, options class %s: lvmd promised room for %d bytes, LVM has room for %d", name, oc, said, room))
			}
		}
	}
	return out
}

func (r *vmRig) lvNames() []string {
	return strings.Fields(r.env.LVM(r.t, "lvs", "--noheadings", "-o", "lv_name", r.vg))
}

// lvsField returns LVM's report of fields for one LV, space-separated.
func (r *vmRig) lvsField(lv, fields string) string {
	return strings.Join(strings.Fields(r.env.LVM(r.t, "lvs", "--noheadings", "-o", fields, lv)), " ")
}

func (r *vmRig) lvsFloat(lv, field string) float64 {
	r.t.Helper()
	f, err := strconv.ParseFloat(r.lvsField(lv, field), 64)
	if err != nil {
		r.t.Fatal(err)
	}
	return f
}

// pattern fills b with the data expected at offset off of a region
// written with seed: every 8-byte word differs by offset and seed, so
// misplaced, stale or foreign blocks all show.
func pattern(b []byte, off int64, seed int) {
	for i := 0; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], uint64(off+int64(i))*0x9E3779B97F4A7C15+uint64(seed)*0xD6E8FEB86659FD93)
	}
}

const chunk = 1 << 20

// writePattern writes size bytes of pattern seed at off into path (a
// block device or a file, created if missing) and syncs it.
func writePattern(t *testing.T, path string, off, size int64, seed int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, chunk)
	for o := off; o < off+size; o += chunk {
		n := min(chunk, off+size-o)
		pattern(b[:n], o, seed)
		if _, err := f.WriteAt(b[:n], o); err != nil {
			t.Fatalf("write %s at %d: %v", path, o, err)
		}
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}

// checkPattern checks that path holds pattern seed in [off, off+size).
func checkPattern(t *testing.T, path string, off, size int64, seed int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, want := make([]byte, chunk), make([]byte, chunk)
	for o := off; o < off+size; o += chunk {
		n := min(chunk, off+size-o)
		if _, err := f.ReadAt(got[:n], o); err != nil {
			t.Fatalf("read %s at %d: %v", path, o, err)
		}
		pattern(want[:n], o, seed)
		if !bytes.Equal(got[:n], want[:n]) {
			t.Errorf("%s: the MiB at offset %d does not hold pattern %d", path, o, seed)
			return
		}
	}
}

// sameBytes checks that the first size bytes of a and b are equal.
func sameBytes(t *testing.T, a, b string, size int64) {
	t.Helper()
	fa, err := os.Open(a)
	if err != nil {
		t.Fatal(err)
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	ba, bb := make([]byte, chunk), make([]byte, chunk)
	for o := int64(0); o < size; o += chunk {
		n := min(chunk, size-o)
		if _, err := io.ReadFull(io.NewSectionReader(fa, o, n), ba[:n]); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(io.NewSectionReader(fb, o, n), bb[:n]); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ba[:n], bb[:n]) {
			t.Errorf("%s and %s differ in the MiB at offset %d", a, b, o)
			return
		}
	}
}
