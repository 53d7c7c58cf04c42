//go:build integration

package btrfsd_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/toposuite/toposuite/btrfsd"
	"github.com/toposuite/toposuite/btrfsd/btrfs"
	"github.com/toposuite/toposuite/btrfsd/config"
	"github.com/toposuite/toposuite/internal/daemon"
	api "github.com/toposuite/toposuite/internal/daemonapi"
	"github.com/toposuite/toposuite/internal/testutil"
)

const (
	mib = int64(1) << 20
	gib = int64(1) << 30
)

// rig is a real btrfs filesystem on a loop device, with btrfsd serving a
// pool on it over a unix socket.
type rig struct {
	t      testing.TB
	mnt    string
	pool   string
	cfg    *config.Config
	client api.StorageDaemonClient
	stop   func()
}

func newRig(t testing.TB, fsSize int64, budget string) *rig {
	testutil.RequireRoot(t)
	mnt := testutil.Btrfs(t, fsSize, true)
	pool := filepath.Join(mnt, "pool")
	if err := os.Mkdir(pool, 0o755); err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, mnt: mnt, pool: pool}
	p := config.Pool{Name: "fast", Path: pool, Default: true}
	if budget != "" {
		q := resource.MustParse(budget)
		p.Budget = &q
	}
	r.cfg = &config.Config{
		Settings: daemon.Settings{SocketName: filepath.Join(testutil.Dir(t), "btrfsd.sock"), PollInterval: &metav1.Duration{Duration: 200 * time.Millisecond}},
		Pools:    []config.Pool{p},
	}
	r.cfg.Default()
	r.start()
	t.Cleanup(func() { r.stop() })
	return r
}

func (r *rig) start() {
	r.t.Helper()
	r.client, r.stop = testutil.ServeDaemon(r.t, r.cfg.SocketName, func(ctx context.Context) (*daemon.Instance, error) {
		return btrfsd.Start(ctx, r.cfg, testr.NewWithInterface(r.t, testr.Options{}))
	})
}

func (r *rig) available() int64 {
	c, err := r.client.GetCapacity(testutil.Context(r.t), &api.GetCapacityRequest{})
	if err != nil {
		r.t.Fatal(err)
	}
	return c.Classes[0].AvailableBytes
}

// fill writes size bytes of incompressible-enough data into path.
func fill(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, mib)
	for i := range buf {
		buf[i] = byte(i*31 + 7)
	}
	for done := int64(0); done < size; done += mib {
		if _, err := f.Write(buf); err != nil {
			return err
		}
	}
	return f.Sync()
}

func (r *rig) subvolumes() []string {
	entries, _ := os.ReadDir(r.pool)
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func TestIntegrationQuotaEnforcedAndGrown(t *testing.T) {
	r := newRig(t, gib, "")
	c := testutil.Context(t)
	v, err := r.client.CreateVolume(c, &api.CreateVolumeRequest{Name: "data", SizeBytes: 32 * mib})
	if err != nil {
		t.Fatal(err)
	}
	if v.Volume.Path != filepath.Join(r.pool, "data") || v.Volume.SizeBytes != 32*mib {
		t.Fatalf("volume = %+v", v.Volume)
	}
	err = fill(filepath.Join(v.Volume.Path, "a"), 48*mib)
	if !errors.Is(err, syscall.EDQUOT) {
		t.Fatalf("writing 48 MiB into a 32 MiB volume: %v, want EDQUOT", err)
	}
	// The volume is now at its limit: growing must still work (by qgroup id).
	g, err := r.client.ResizeVolume(c, &api.ResizeVolumeRequest{Name: "data", SizeBytes: 96 * mib})
	if err != nil || g.Volume.SizeBytes != 96*mib {
		t.Fatalf("grow: %v, %v", g, err)
	}
	if err := fill(filepath.Join(v.Volume.Path, "b"), 32*mib); err != nil {
		t.Fatalf("write after growing: %v", err)
	}
	got, err := r.client.GetVolume(c, &api.GetVolumeRequest{Name: "data"})
	if err != nil {
		t.Fatal(err)
	}
	if u := got.Volume.GetUsedBytes(); u < 60*mib || u > 96*mib {
		t.Errorf("used bytes = %d, want about 64 MiB (from the qgroup, after a sync)", u)
	}
	// statfs shows the whole filesystem, not the volume: that is why the
	// volume's figures must come from its qgroup.
	var st syscall.Statfs_t
	if err := syscall.Statfs(v.Volume.Path, &st); err != nil {
		t.Fatal(err)
	}
	if total := int64(st.Blocks) * st.Bsize; total <= 96*mib || got.Volume.SizeBytes != 96*mib {
		t.Errorf("statfs total %d, volume size %d: want the filesystem's size from statfs and the limit from the volume", total, got.Volume.SizeBytes)
	}
	_, err = r.client.ResizeVolume(c, &api.ResizeVolumeRequest{Name: "data", SizeBytes: 16 * mib})
	testutil.WantCode(t, err, codes.FailedPrecondition, "shrink")

	fsid, _ := btrfs.FSID(r.mnt)
	info, _ := btrfs.Info(v.Volume.Path)
	if _, err := r.client.RemoveVolume(c, &api.RemoveVolumeRequest{Name: "data"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.client.RemoveVolume(c, &api.RemoveVolumeRequest{Name: "data"}); err != nil {
		t.Errorf("second remove: %v", err)
	}
	if len(r.subvolumes()) != 0 {
		t.Errorf("pool not empty: %v", r.subvolumes())
	}
	btrfs.Sync(r.mnt)
	gone := false
	for range 200 {
		if _, err := btrfs.QgroupOf(btrfs.SysfsRoot, fsid, info.ID); err != nil {
			gone = true
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !gone {
		t.Errorf("qgroup 0/%d left behind after remove", info.ID)
	}
}

func TestIntegrationSnapshots(t *testing.T) {
	r := newRig(t, gib, "")
	c := testutil.Context(t)
	src, err := r.client.CreateVolume(c, &api.CreateVolumeRequest{Name: "src", SizeBytes: 64 * mib})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src.Volume.Path, "f"), []byte("original"), 0o644); err != nil {
		t.Fatal(err)
	}
	ro, err := r.client.CreateSnapshot(c, &api.CreateSnapshotRequest{Name: "snap", SourceName: "src", ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if !ro.Volume.ReadOnly || !ro.Volume.Snapshot || ro.Volume.Source != "src" || ro.Volume.SizeBytes != 64*mib {
		t.Errorf("read-only snapshot = %+v", ro.Volume)
	}
	if err := os.WriteFile(filepath.Join(ro.Volume.Path, "g"), []byte("x"), 0o644); !errors.Is(err, syscall.EROFS) {
		t.Errorf("write into the read-only snapshot: %v, want EROFS", err)
	}
	again, err := r.client.CreateSnapshot(c, &api.CreateSnapshotRequest{Name: "snap", SourceName: "src", ReadOnly: true})
	if err != nil || again.Volume.Name != "snap" {
		t.Errorf("repeated snapshot: %v, %v", again, err)
	}
	_, err = r.client.CreateSnapshot(c, &api.CreateSnapshotRequest{Name: "snap", SourceName: "src"})
	testutil.WantCode(t, err, codes.AlreadyExists, "same snapshot, writable")

	clone, err := r.client.CreateSnapshot(c, &api.CreateSnapshotRequest{Name: "clone", SourceName: "snap", SizeBytes: 128 * mib})
	if err != nil {
		t.Fatal(err)
	}
	if clone.Volume.ReadOnly || clone.Volume.SizeBytes != 128*mib {
		t.Errorf("clone = %+v", clone.Volume)
	}
	if err := os.WriteFile(filepath.Join(clone.Volume.Path, "f"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(src.Volume.Path, "f")); string(b) != "original" {
		t.Errorf("source changed through the clone: %q", b)
	}
	// The clone has its own limit: 128 MiB fit, 160 MiB do not.
	if err := fill(filepath.Join(clone.Volume.Path, "big"), 160*mib); !errors.Is(err, syscall.EDQUOT) {
		t.Errorf("clone limit: %v, want EDQUOT", err)
	}
	_, err = r.client.CreateSnapshot(c, &api.CreateSnapshotRequest{Name: "small", SourceName: "src", SizeBytes: mib})
	testutil.WantCode(t, err, codes.InvalidArgument, "snapshot smaller than its source")
	list, err := r.client.ListVolumes(c, &api.ListVolumesRequest{})
	if err != nil || len(list.Volumes) != 3 {
		t.Errorf("list = %v, %v", list, err)
	}
	for _, n := range []string{"clone", "snap", "src"} {
		if _, err := r.client.RemoveVolume(c, &api.RemoveVolumeRequest{Name: n}); err != nil {
			t.Errorf("remove %s: %v", n, err)
		}
	}
}

func TestIntegrationBudgetAndCapacity(t *testing.T) {
	r := newRig(t, gib, "200Mi")
	c := testutil.Context(t)
	if got := r.available(); got != 200*mib {
		t.Fatalf("available = %d, want the 200 MiB budget", got)
	}
	if _, err := r.client.CreateVolume(c, &api.CreateVolumeRequest{Name: "a", SizeBytes: 150 * mib}); err != nil {
		t.Fatal(err)
	}
	if got := r.available(); got != 50*mib {
		t.Errorf("available = %d, want 50 MiB", got)
	}
	_, err := r.client.CreateVolume(c, &api.CreateVolumeRequest{Name: "b", SizeBytes: 51 * mib})
	testutil.WantCode(t, err, codes.ResourceExhausted, "over the budget")
	if _, err := r.client.CreateVolume(c, &api.CreateVolumeRequest{Name: "a", SizeBytes: 150 * mib}); err != nil {
		t.Errorf("idempotent create in a full pool: %v", err)
	}
	_, err = r.client.CreateVolume(c, &api.CreateVolumeRequest{Name: "a", SizeBytes: 100 * mib})
	testutil.WantCode(t, err, codes.AlreadyExists, "same name, other size")
	_, err = r.client.ResizeVolume(c, &api.ResizeVolumeRequest{Name: "a", SizeBytes: 300 * mib})
	testutil.WantCode(t, err, codes.ResourceExhausted, "grow over the budget")
	if _, err := r.client.RemoveVolume(c, &api.RemoveVolumeRequest{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	if got := r.available(); got != 200*mib {
		t.Errorf("available after remove = %d", got)
	}
}

func TestIntegrationFilesystemFreeSpaceBounds(t *testing.T) {
	// Without a budget, the budget is the filesystem size; free space minus
	// spare bounds it too: a filesystem filled outside the pool has less room.
	r := newRig(t, 512*mib, "")
	before := r.available()
	if err := fill(filepath.Join(r.mnt, "outside"), 200*mib); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for r.available() > before-150*mib {
		if time.Now().After(deadline) {
			t.Fatalf("available stayed at %d after 200 MiB written outside the pool (was %d)", r.available(), before)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestIntegrationConcurrentCreates(t *testing.T) {
	r := newRig(t, gib, "400Mi")
	c := testutil.Context(t)
	var wg sync.WaitGroup
	errs := make(chan error, 48)
	for i := range 48 { // 40 fit exactly in the budget
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := r.client.CreateVolume(c, &api.CreateVolumeRequest{Name: fmt.Sprintf("v%02d", i), SizeBytes: 10 * mib})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	ok, full := 0, 0
	for err := range errs {
		switch status.Code(err) {
		case codes.OK:
			ok++
		case codes.ResourceExhausted:
			full++
		default:
			t.Errorf("unexpected: %v", err)
		}
	}
	if ok != 40 || full != 8 || len(r.subvolumes()) != 40 {
		t.Errorf("ok=%d exhausted=%d subvolumes=%d; want 40, 8, 40", ok, full, len(r.subvolumes()))
	}
}

func TestIntegrationRestartKnowsEverything(t *testing.T) {
	r := newRig(t, gib, "")
	c := testutil.Context(t)
	for i := range 3 {
		if _, err := r.client.CreateVolume(c, &api.CreateVolumeRequest{Name: fmt.Sprintf("r%d", i), SizeBytes: int64(i+1) * 16 * mib}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.client.CreateSnapshot(c, &api.CreateSnapshotRequest{Name: "s", SourceName: "r0", ReadOnly: true}); err != nil {
		t.Fatal(err)
	}
	avail := r.available()
	r.stop()
	r.start()
	if got := r.available(); got != avail {
		t.Errorf("available after restart = %d, want %d", got, avail)
	}
	list, err := r.client.ListVolumes(testutil.Context(t), &api.ListVolumesRequest{DeviceClass: "fast"})
	if err != nil || len(list.Volumes) != 4 {
		t.Fatalf("list after restart: %v, %v", list, err)
	}
	for _, v := range list.Volumes {
		if v.Name == "s" && (!v.ReadOnly || v.Source != "r0") {
			t.Errorf("snapshot after restart = %+v", v)
		}
	}
	if _, err := r.client.CreateVolume(testutil.Context(t), &api.CreateVolumeRequest{Name: "r1", SizeBytes: 32 * mib}); err != nil {
		t.Errorf("idempotent create after restart: %v", err)
	}
}

func TestIntegrationWatchSeesSubvolumeMadeByHand(t *testing.T) {
	r := newRig(t, gib, "500Mi") // a budget, so that a limit set by hand shows in the capacity
	c := testutil.Context(t)
	stream, err := r.client.Watch(c, &api.WatchRequest{})
	if err != nil {
		t.Fatal(err)
	}
	first, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	testutil.Run(t, nil, "btrfs", "subvolume", "create", filepath.Join(r.pool, "byhand"))
	testutil.Run(t, nil, "btrfs", "qgroup", "limit", "100M", filepath.Join(r.pool, "byhand"))
	for {
		m, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if m.Classes[0].AvailableBytes <= first.Classes[0].AvailableBytes-100*mib {
			break
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Watch saw the hand-made subvolume after %v, want within 2s", d)
	}
	// It is not the suite's: not listed, not removed.
	list, _ := r.client.ListVolumes(c, &api.ListVolumesRequest{})
	if len(list.GetVolumes()) != 0 {
		t.Errorf("foreign subvolume listed: %v", list)
	}
	if _, err := r.client.RemoveVolume(c, &api.RemoveVolumeRequest{Name: "byhand"}); err != nil {
		t.Errorf("remove of a foreign subvolume: %v", err)
	}
	if len(r.subvolumes()) != 1 {
		t.Errorf("the foreign subvolume must survive: %v", r.subvolumes())
	}
	_, err = r.client.CreateVolume(c, &api.CreateVolumeRequest{Name: "byhand", SizeBytes: mib})
	testutil.WantCode(t, err, codes.AlreadyExists, "create over a foreign subvolume")
	testutil.Run(t, nil, "btrfs", "subvolume", "delete", filepath.Join(r.pool, "byhand"))
}

func TestIntegrationBadInputCreatesNothing(t *testing.T) {
	r := newRig(t, 256*mib, "")
	c := testutil.Context(t)
	cases := []struct {
		name string
		req  *api.CreateVolumeRequest
		code codes.Code
	}{
		{"slash", &api.CreateVolumeRequest{Name: "a/b", SizeBytes: mib}, codes.InvalidArgument},
		{"dotdot", &api.CreateVolumeRequest{Name: "..", SizeBytes: mib}, codes.InvalidArgument},
		{"escape", &api.CreateVolumeRequest{Name: "../../etc", SizeBytes: mib}, codes.InvalidArgument},
		{"nul", &api.CreateVolumeRequest{Name: "a\x00b", SizeBytes: mib}, codes.InvalidArgument},
		{"dot first", &api.CreateVolumeRequest{Name: ".hidden", SizeBytes: mib}, codes.InvalidArgument},
		{"too long", &api.CreateVolumeRequest{Name: strings.Repeat("a", 129), SizeBytes: mib}, codes.InvalidArgument},
		{"zero", &api.CreateVolumeRequest{Name: "z", SizeBytes: 0}, codes.InvalidArgument},
		{"negative", &api.CreateVolumeRequest{Name: "z", SizeBytes: -5}, codes.InvalidArgument},
		{"absurd", &api.CreateVolumeRequest{Name: "z", SizeBytes: 1<<63 - 1}, codes.InvalidArgument},
		{"bigger than the pool", &api.CreateVolumeRequest{Name: "z", SizeBytes: 1 << 40}, codes.ResourceExhausted},
		{"unknown pool", &api.CreateVolumeRequest{Name: "z", SizeBytes: mib, DeviceClass: "slow"}, codes.InvalidArgument},
		{"options class", &api.CreateVolumeRequest{Name: "z", SizeBytes: mib, OptionsClass: "raid1"}, codes.InvalidArgument},
	}
	for _, tc := range cases {
		_, err := r.client.CreateVolume(c, tc.req)
		testutil.WantCode(t, err, tc.code, tc.name)
	}
	_, err := r.client.CreateSnapshot(c, &api.CreateSnapshotRequest{Name: "s", SourceName: "missing"})
	testutil.WantCode(t, err, codes.NotFound, "snapshot of a missing volume")
	_, err = r.client.RemoveVolume(c, &api.RemoveVolumeRequest{Name: "../x"})
	testutil.WantCode(t, err, codes.InvalidArgument, "remove with a path")
	if s := r.subvolumes(); len(s) != 0 {
		t.Errorf("bad requests left %v", s)
	}
}

func TestIntegrationPoolChecks(t *testing.T) {
	testutil.RequireRoot(t)
	noQuota := testutil.Btrfs(t, 256*mib, false)
	cfg := &config.Config{Pools: []config.Pool{{Name: "p", Path: noQuota, Default: true}}}
	cfg.Default()
	_, err := btrfsd.Start(testutil.Context(t), cfg, logr.Discard())
	if err == nil || !strings.Contains(err.Error(), "quotas are off") {
		t.Errorf("pool without quotas: %v", err)
	}
	cfg.Pools[0].EnableQuota = true
	if _, err := btrfsd.Start(testutil.Context(t), cfg, logr.Discard()); err != nil {
		t.Errorf("pool with enableQuota: %v", err)
	}
	notBtrfs := testutil.Dir(t)
	cfg.Pools[0].Path = notBtrfs
	_, err = btrfsd.Start(testutil.Context(t), cfg, logr.Discard())
	if err == nil || !strings.Contains(err.Error(), "not a btrfs filesystem") {
		t.Errorf("pool on tmpfs/ext4: %v", err)
	}
}

func TestIntegrationVolumeOwnership(t *testing.T) {
	r := newRig(t, 512*mib, "")
	testutil.CheckVolumeOwnership(t, r.client, 32*mib, 64*mib)
	if names := r.subvolumes(); len(names) != 0 {
		t.Errorf("subvolumes left: %v", names)
	}
}
