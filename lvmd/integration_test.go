//go:build integration

package lvmd_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/toposuite/toposuite/internal/daemon"
	api "github.com/toposuite/toposuite/internal/daemonapi"
	"github.com/toposuite/toposuite/internal/testutil"
	"github.com/toposuite/toposuite/lvmd"
	"github.com/toposuite/toposuite/lvmd/config"
)

const (
	mib = int64(1) << 20
	gib = int64(1) << 30
)

// rig is a real LVM volume group on loop devices with lvmd serving it on a
// unix socket.
type rig struct {
	t      testing.TB
	env    *testutil.LVMEnv
	vg     string
	cfg    *config.Config
	client api.StorageDaemonClient
	stop   func()
	extra  string // a second, unused loop device for vgextend
}

func newRig(t testing.TB, diskSize int64) *rig {
	testutil.RequireRoot(t)
	testutil.RequireTools(t, "lvm", "losetup")
	dir := testutil.Dir(t)
	dev := testutil.LoopDevice(t, dir, diskSize)
	extra := testutil.LoopDevice(t, dir, 256*mib)
	env := testutil.NewLVMEnv(t, dev, extra)
	vg := testutil.UniqueName("tsvg")
	env.VG(t, vg, dev)
	r := &rig{t: t, env: env, vg: vg, extra: extra}
	zero := resource.MustParse("0")
	r.cfg = &config.Config{
		Settings: daemon.Settings{SocketName: filepath.Join(dir, "lvmd.sock"), PollInterval: &metav1.Duration{Duration: 200 * time.Millisecond}},
		LVM:      config.LVMSettings{Path: "lvm", Env: env.EnvMap()},
		DeviceClasses: []config.DeviceClass{
			{Name: "ssd", VolumeGroup: vg, Default: true, Spare: &zero},
		},
		LvcreateOptionClasses: []config.OptionClass{{Name: "mirror", Options: []string{"--type=raid1", "-m", "1"}}},
	}
	r.cfg.Default()
	r.start()
	t.Cleanup(func() { r.stop() })
	return r
}

func (r *rig) start() {
	r.t.Helper()
	r.client, r.stop = testutil.ServeDaemon(r.t, r.cfg.SocketName, func(ctx context.Context) (*daemon.Instance, error) {
		return lvmd.Start(ctx, r.cfg, testr.NewWithInterface(r.t, testr.Options{}))
	})
}

// lvNames lists the LVs of the VG straight from LVM.
func (r *rig) lvNames() []string {
	out := r.env.LVM(r.t, "lvs", "--noheadings", "-o", "lv_name", r.vg)
	return strings.Fields(out)
}

func (r *rig) available() int64 {
	c, err := r.client.GetCapacity(testutil.Context(r.t), &api.GetCapacityRequest{})
	if err != nil {
		r.t.Fatal(err)
	}
	return c.Classes[0].AvailableBytes
}

func TestIntegrationVolumeLifecycle(t *testing.T) {
	r := newRig(t, gib)
	c := testutil.Context(t)
	before := r.available()

	v, err := r.client.CreateVolume(c, &api.CreateVolumeRequest{Name: "pvc-a", SizeBytes: 10*mib + 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := v.Volume.SizeBytes; got != 12*mib {
		t.Errorf("size = %d, want 12 MiB (rounded up to 4 MiB extents)", got)
	}
	if v.Volume.DeviceClass != "ssd" {
		t.Errorf("class = %q", v.Volume.DeviceClass)
	}
	if got := r.available(); got != before-12*mib {
		t.Errorf("available after create = %d, want %d", got, before-12*mib)
	}
	tags := r.env.LVM(t, "lvs", "--noheadings", "-o", "lv_tags", r.vg+"/pvc-a")
	if !strings.Contains(tags, config.OwnerTag) || !strings.Contains(tags, "toposuite.io/class=ssd") {
		t.Errorf("tags = %q, want owner and class tags", tags)
	}

	// Idempotent: same name and size returns the volume; another size is AlreadyExists.
	again, err := r.client.CreateVolume(c, &api.CreateVolumeRequest{Name: "pvc-a", SizeBytes: 12 * mib})
	if err != nil || again.Volume.SizeBytes != 12*mib {
		t.Errorf("repeat create: %v, %v", again, err)
	}
	_, err = r.client.CreateVolume(c, &api.CreateVolumeRequest{Name: "pvc-a", SizeBytes: 40 * mib})
	testutil.WantCode(t, err, codes.AlreadyExists, "create with another size")

	got, err := r.client.GetVolume(c, &api.GetVolumeRequest{Name: "pvc-a"})
	if err != nil || got.Volume.SizeBytes != 12*mib || got.Volume.Health != api.VolumeHealth_VOLUME_HEALTH_HEALTHY {
		t.Errorf("get: %v, %v", got, err)
	}

	rs, err := r.client.ResizeVolume(c, &api.ResizeVolumeRequest{Name: "pvc-a", SizeBytes: 30 * mib})
	if err != nil || rs.Volume.SizeBytes != 32*mib {
		t.Fatalf("resize: %v, %v", rs, err)
	}
	if got := r.available(); got != before-32*mib {
		t.Errorf("available after resize = %d, want %d", got, before-32*mib)
	}
	_, err = r.client.ResizeVolume(c, &api.ResizeVolumeRequest{Name: "pvc-a", SizeBytes: 8 * mib})
	testutil.WantCode(t, err, codes.FailedPrecondition, "shrink")
	if _, err = r.client.ResizeVolume(c, &api.ResizeVolumeRequest{Name: "pvc-a", SizeBytes: 32 * mib}); err != nil {
		t.Errorf("resize to the same size: %v", err)
	}
	_, err = r.client.ResizeVolume(c, &api.ResizeVolumeRequest{Name: "nothere", SizeBytes: 32 * mib})
	testutil.WantCode(t, err, codes.NotFound, "resize missing")

	// An LV made by hand is not lvmd's: not listed, not removable.
	r.env.LVM(t, "lvcreate", "-y", "-n", "byhand", "-L", "8m", r.vg)
	list, err := r.client.ListVolumes(c, &api.ListVolumesRequest{})
	if err != nil || len(list.Volumes) != 1 || list.Volumes[0].Name != "pvc-a" {
		t.Errorf("list = %v, %v; want only pvc-a", list, err)
	}
	if _, err := r.client.RemoveVolume(c, &api.RemoveVolumeRequest{Name: "byhand"}); err != nil {
		t.Errorf("remove of a foreign LV: %v (want success without removing)", err)
	}
	if names := r.lvNames(); len(names) != 2 {
		t.Errorf("LVs = %v, the foreign LV must survive", names)
	}

	for range 2 { // the second removal finds nothing and still succeeds
		if _, err := r.client.RemoveVolume(c, &api.RemoveVolumeRequest{Name: "pvc-a"}); err != nil {
			t.Fatal(err)
		}
	}
	if names := r.lvNames(); len(names) != 1 || names[0] != "byhand" {
		t.Errorf("LVs after remove = %v", names)
	}
	r.env.LVM(t, "lvremove", "-y", r.vg+"/byhand")
	waitAvailable(t, r, before)
}

func waitAvailable(t *testing.T, r *rig, want int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := r.available()
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("available = %d, want %d", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestIntegrationResourceExhausted(t *testing.T) {
	r := newRig(t, 256*mib)
	c := testutil.Context(t)
	avail := r.available()
	_, err := r.client.CreateVolume(c, &api.CreateVolumeRequest{Name: "toobig", SizeBytes: avail + 1})
	testutil.WantCode(t, err, codes.ResourceExhausted, "create over capacity")
	if _, err := r.client.CreateVolume(c, &api.CreateVolumeRequest{Name: "fits", SizeBytes: avail}); err != nil {
		t.Fatalf("create of exactly the available size: %v", err)
	}
	_, err = r.client.CreateVolume(c, &api.CreateVolumeRequest{Name: "more", SizeBytes: 4 * mib})
	testutil.WantCode(t, err, codes.ResourceExhausted, "create in a full VG")
	// A retry of the create that filled the VG still succeeds (idempotency beats the capacity check).
	if _, err := r.client.CreateVolume(c, &api.CreateVolumeRequest{Name: "fits", SizeBytes: avail}); err != nil {
		t.Errorf("retry of a successful create in a full VG: %v", err)
	}
	if names := r.lvNames(); len(names) != 1 {
		t.Errorf("LVs = %v, want only fits", names)
	}
}

func TestIntegrationSpare(t *testing.T) {
	r := newRig(t, 256*mib)
	r.stop()
	spare := resource.MustParse("100Mi")
	r.cfg.DeviceClasses[0].Spare = &spare
	r.start()
	vgFree := int64(252 * mib)
	if got := r.available(); got != vgFree-100*mib {
		t.Errorf("available = %d, want VG free minus spare = %d", got, vgFree-100*mib)
	}
	_, err := r.client.CreateVolume(testutil.Context(t), &api.CreateVolumeRequest{Name: "a", SizeBytes: 160 * mib})
	testutil.WantCode(t, err, codes.ResourceExhausted, "create into the spare")
}

func TestIntegrationConcurrentCreates(t *testing.T) {
	r := newRig(t, gib)
	c := testutil.Context(t)
	avail := r.available()
	size := 40 * mib
	n := int(avail / size)
	var wg sync.WaitGroup
	errs := make(chan error, n+8)
	// n volumes that fit exactly plus 8 that cannot: exactly n must succeed.
	for i := range n + 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := r.client.CreateVolume(c, &api.CreateVolumeRequest{Name: fmt.Sprintf("c%02d", i), SizeBytes: size})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	ok, exhausted := 0, 0
	for err := range errs {
		switch status.Code(err) {
		case codes.OK:
			ok++
		case codes.ResourceExhausted:
			exhausted++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != n || exhausted != 8 {
		t.Errorf("ok=%d exhausted=%d, want %d and 8", ok, exhausted, n)
	}
	if got := len(r.lvNames()); got != ok {
		t.Errorf("LVM has %d LVs, lvmd said %d were created", got, ok)
	}
	// Same name concurrently: one LV, every caller gets it.
	var wg2 sync.WaitGroup
	for range 8 {
		wg2.Add(1)
		go func() {
			defer wg2.Done()
			if _, err := r.client.RemoveVolume(c, &api.RemoveVolumeRequest{Name: "c00"}); err != nil {
				t.Errorf("concurrent remove: %v", err)
			}
		}()
	}
	wg2.Wait()
	for range 8 {
		wg2.Add(1)
		go func() {
			defer wg2.Done()
			if _, err := r.client.CreateVolume(c, &api.CreateVolumeRequest{Name: "same", SizeBytes: 4 * mib}); err != nil {
				t.Errorf("concurrent create of one name: %v", err)
			}
		}()
	}
	wg2.Wait()
}

func TestIntegrationRestartKnowsEverything(t *testing.T) {
	r := newRig(t, gib)
	c := testutil.Context(t)
	for i := range 3 {
		if _, err := r.client.CreateVolume(c, &api.CreateVolumeRequest{Name: fmt.Sprintf("r%d", i), SizeBytes: int64(i+1) * 8 * mib}); err != nil {
			t.Fatal(err)
		}
	}
	avail := r.available()
	r.stop()
	r.start()
	if got := r.available(); got != avail {
		t.Errorf("available after restart = %d, want %d", got, avail)
	}
	list, err := r.client.ListVolumes(testutil.Context(t), &api.ListVolumesRequest{DeviceClass: "ssd"})
	if err != nil || len(list.Volumes) != 3 {
		t.Fatalf("list after restart: %v, %v", list, err)
	}
	if _, err := r.client.CreateVolume(testutil.Context(t), &api.CreateVolumeRequest{Name: "r1", SizeBytes: 16 * mib}); err != nil {
		t.Errorf("idempotent create after restart: %v", err)
	}
}

func TestIntegrationWatchSeesOutsideChanges(t *testing.T) {
	r := newRig(t, 256*mib)
	c := testutil.Context(t)
	stream, err := r.client.Watch(c, &api.WatchRequest{})
	if err != nil {
		t.Fatal(err)
	}
	first, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	base := first.Classes[0].SizeBytes

	recvUntil := func(what string, ok func(*api.CapacityResponse) bool) time.Duration {
		t.Helper()
		start := time.Now()
		for {
			m, err := stream.Recv()
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if ok(m) {
				return time.Since(start)
			}
		}
	}
	// Out-of-band vgextend.
	r.env.LVM(t, "vgextend", "-y", r.vg, r.extra)
	d := recvUntil("vgextend", func(m *api.CapacityResponse) bool { return m.Classes[0].SizeBytes > base })
	if d > 2*time.Second {
		t.Errorf("Watch saw the vgextend after %v, want within 2s", d)
	}
	// An lvcreate by hand.
	avail := r.available()
	r.env.LVM(t, "lvcreate", "-y", "-n", "byhand", "-L", "16m", r.vg)
	d = recvUntil("lvcreate", func(m *api.CapacityResponse) bool { return m.Classes[0].AvailableBytes == avail-16*mib })
	if d > 2*time.Second {
		t.Errorf("Watch saw the lvcreate after %v, want within 2s", d)
	}
	// lvmd's own change is pushed at once.
	if _, err := r.client.CreateVolume(c, &api.CreateVolumeRequest{Name: "own", SizeBytes: 8 * mib}); err != nil {
		t.Fatal(err)
	}
	recvUntil("own create", func(m *api.CapacityResponse) bool { return m.Classes[0].AvailableBytes == avail-24*mib })
	r.env.LVM(t, "lvremove", "-y", r.vg+"/byhand")
	r.env.LVM(t, "vgreduce", r.vg, r.extra)
}

func TestIntegrationBadInputCreatesNothing(t *testing.T) {
	r := newRig(t, 256*mib)
	c := testutil.Context(t)
	long := strings.Repeat("a", 65)
	cases := []struct {
		name string
		req  *api.CreateVolumeRequest
		code codes.Code
	}{
		{"slash", &api.CreateVolumeRequest{Name: "a/b", SizeBytes: mib}, codes.InvalidArgument},
		{"space", &api.CreateVolumeRequest{Name: "a b", SizeBytes: mib}, codes.InvalidArgument},
		{"quote", &api.CreateVolumeRequest{Name: `a"b`, SizeBytes: mib}, codes.InvalidArgument},
		{"single quote", &api.CreateVolumeRequest{Name: "a'b", SizeBytes: mib}, codes.InvalidArgument},
		{"dash first", &api.CreateVolumeRequest{Name: "-a", SizeBytes: mib}, codes.InvalidArgument},
		{"too long", &api.CreateVolumeRequest{Name: long, SizeBytes: mib}, codes.InvalidArgument},
		{"reserved prefix", &api.CreateVolumeRequest{Name: "snapshot1", SizeBytes: mib}, codes.InvalidArgument},
		{"reserved part", &api.CreateVolumeRequest{Name: "x_rimage", SizeBytes: mib}, codes.InvalidArgument},
		{"dotdot", &api.CreateVolumeRequest{Name: "..", SizeBytes: mib}, codes.InvalidArgument},
		{"empty", &api.CreateVolumeRequest{Name: "", SizeBytes: mib}, codes.InvalidArgument},
		{"zero size", &api.CreateVolumeRequest{Name: "z", SizeBytes: 0}, codes.InvalidArgument},
		{"negative size", &api.CreateVolumeRequest{Name: "z", SizeBytes: -1}, codes.InvalidArgument},
		{"absurd size", &api.CreateVolumeRequest{Name: "z", SizeBytes: 1<<63 - 1}, codes.InvalidArgument},
		{"more than the VG", &api.CreateVolumeRequest{Name: "z", SizeBytes: 1 << 50}, codes.ResourceExhausted},
		{"unknown class", &api.CreateVolumeRequest{Name: "z", SizeBytes: mib, DeviceClass: "nvme"}, codes.InvalidArgument},
		{"unknown options class", &api.CreateVolumeRequest{Name: "z", SizeBytes: mib, OptionsClass: "raid99"}, codes.InvalidArgument},
	}
	for _, tc := range cases {
		_, err := r.client.CreateVolume(c, tc.req)
		testutil.WantCode(t, err, tc.code, tc.name)
	}
	// RAID cannot run without device-mapper: a clear FailedPrecondition, nothing left.
	if !testutil.DeviceMapper() {
		_, err := r.client.CreateVolume(c, &api.CreateVolumeRequest{Name: "raid", SizeBytes: 8 * mib, OptionsClass: "mirror"})
		testutil.WantCode(t, err, codes.FailedPrecondition, "raid1 without device-mapper")
		_, err = r.client.CreateVolume(c, &api.CreateVolumeRequest{Name: "origin", SizeBytes: 8 * mib})
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.client.CreateSnapshot(c, &api.CreateSnapshotRequest{Name: "snap", SourceName: "origin", SizeBytes: 8 * mib, ReadOnly: true})
		testutil.WantCode(t, err, codes.FailedPrecondition, "thick snapshot without device-mapper")
		if _, err := r.client.RemoveVolume(c, &api.RemoveVolumeRequest{Name: "origin"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, bad := range []string{"a/b", "-a", ".."} {
		_, err := r.client.RemoveVolume(c, &api.RemoveVolumeRequest{Name: bad})
		testutil.WantCode(t, err, codes.InvalidArgument, "remove "+bad)
	}
	_, err := r.client.CreateSnapshot(c, &api.CreateSnapshotRequest{Name: "s", SourceName: "missing", SizeBytes: mib})
	testutil.WantCode(t, err, codes.NotFound, "snapshot of a missing volume")
	if names := r.lvNames(); len(names) != 0 {
		t.Errorf("bad requests left LVs behind: %v", names)
	}
}

func TestIntegrationConfigPointingAtMissingVG(t *testing.T) {
	r := newRig(t, 256*mib)
	cfg := *r.cfg
	cfg.DeviceClasses = []config.DeviceClass{{Name: "x", VolumeGroup: "no-such-vg", Default: true, Type: config.TypeThick}}
	_, err := lvmd.Start(testutil.Context(t), &cfg, logr.Discard())
	if err == nil || !strings.Contains(err.Error(), `volume group "no-such-vg" does not exist`) {
		t.Errorf("err = %v, want a clear missing VG error", err)
	}
}

func TestIntegrationVolumeOwnership(t *testing.T) {
	r := newRig(t, 512*mib)
	testutil.CheckVolumeOwnership(t, r.client, 32*mib, 64*mib)
	if names := r.lvNames(); len(names) != 0 {
		t.Errorf("LVs left: %v", names)
	}
}
