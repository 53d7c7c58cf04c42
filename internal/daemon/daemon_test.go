package daemon

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	api "github.com/toposuite/toposuite/internal/daemonapi"
	"github.com/toposuite/toposuite/internal/storage"
)

// memBackend is an in-memory Backend for testing the serving layer alone;
// the real backends have their own tests on real LVM and btrfs.
type memBackend struct {
	mu    sync.Mutex
	vols  map[string]storage.Volume
	free  int64
	fail  error
	polls int
}

func newMem(free int64) *memBackend {
	return &memBackend{vols: map[string]storage.Volume{}, free: free}
}

func (m *memBackend) CreateVolume(_ context.Context, r storage.CreateRequest) (storage.Volume, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return storage.Volume{}, m.fail
	}
	if r.SizeBytes > m.free {
		return storage.Volume{}, storage.Errorf(storage.ErrNoSpace, "no room for %d", r.SizeBytes)
	}
	m.free -= r.SizeBytes
	v := storage.Volume{Name: r.Name, Class: "c", SizeBytes: r.SizeBytes, Health: storage.HealthHealthy}
	m.vols[r.Name] = v
	return v, nil
}
func (m *memBackend) CreateSnapshot(context.Context, storage.SnapshotRequest) (storage.Volume, error) {
	return storage.Volume{}, storage.Errorf(storage.ErrPrecondition, "no snapshots here")
}
func (m *memBackend) ResizeVolume(context.Context, string, string, int64, storage.Claim) (storage.Volume, error) {
	panic("resize exploded")
}
func (m *memBackend) RemoveVolume(_ context.Context, _, name string, _ storage.Claim) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.free += m.vols[name].SizeBytes
	delete(m.vols, name)
	return nil
}
func (m *memBackend) GetVolume(_ context.Context, _, name string) (storage.Volume, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.vols[name]
	if !ok {
		return v, storage.Errorf(storage.ErrNotFound, "volume %q not found", name)
	}
	return v, nil
}
func (m *memBackend) ListVolumes(context.Context, string) ([]storage.Volume, error) { return nil, nil }
func (m *memBackend) Capacity() storage.Capacity {
	m.mu.Lock()
	defer m.mu.Unlock()
	return storage.Capacity{{Name: "c", Default: true, SizeBytes: 100, AvailableBytes: m.free}}
}
func (m *memBackend) Refresh(context.Context) (storage.Capacity, error) {
	m.mu.Lock()
	m.polls++
	m.mu.Unlock()
	return m.Capacity(), nil
}

func (m *memBackend) setFree(n int64) {
	m.mu.Lock()
	m.free = n
	m.mu.Unlock()
}

func startInProcess(t *testing.T, b Backend) api.StorageDaemonClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	inst := Start(ctx, b, 20*time.Millisecond, logr.Discard())
	conn, closeFn, err := InProcess(inst.Server)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeFn)
	return api.NewStorageDaemonClient(conn)
}

func TestCodesAndValidation(t *testing.T) {
	c := startInProcess(t, newMem(50))
	ctx := context.Background()
	check := func(what string, err error, want codes.Code) {
		t.Helper()
		if status.Code(err) != want {
			t.Errorf("%s: %v, want %v", what, err, want)
		}
	}
	_, err := c.CreateVolume(ctx, &api.CreateVolumeRequest{Name: "", SizeBytes: 1})
	check("empty name", err, codes.InvalidArgument)
	_, err = c.CreateVolume(ctx, &api.CreateVolumeRequest{Name: "a", SizeBytes: -1})
	check("negative size", err, codes.InvalidArgument)
	_, err = c.CreateVolume(ctx, &api.CreateVolumeRequest{Name: "a", SizeBytes: 60})
	check("too big", err, codes.ResourceExhausted)
	_, err = c.GetVolume(ctx, &api.GetVolumeRequest{Name: "nope"})
	check("missing", err, codes.NotFound)
	_, err = c.CreateSnapshot(ctx, &api.CreateSnapshotRequest{Name: "s", SourceName: "a"})
	check("precondition", err, codes.FailedPrecondition)
	_, err = c.ResizeVolume(ctx, &api.ResizeVolumeRequest{Name: "a", SizeBytes: 1})
	check("panic in backend", err, codes.Internal)
	_, err = c.CreateSnapshot(ctx, &api.CreateSnapshotRequest{Name: "s"})
	check("snapshot without source", err, codes.InvalidArgument)
}

func TestStatusForWrapsKinds(t *testing.T) {
	cases := map[error]codes.Code{
		storage.Errorf(storage.ErrExists, "x"):                          codes.AlreadyExists,
		storage.Errorf(storage.ErrUnavailable, "x"):                     codes.Unavailable,
		storage.Errorf(storage.ErrInvalid, "x: %w", errors.New("deep")): codes.InvalidArgument,
		context.DeadlineExceeded:                                        codes.DeadlineExceeded,
		errors.New("plain"):                                             codes.Internal,
	}
	for err, want := range cases {
		if got := status.Code(statusFor(err)); got != want {
			t.Errorf("statusFor(%v) = %v, want %v", err, got, want)
		}
	}
}

func TestWatchPushesOwnAndOutsideChanges(t *testing.T) {
	m := newMem(50)
	c := startInProcess(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := c.Watch(ctx, &api.WatchRequest{})
	if err != nil {
		t.Fatal(err)
	}
	next := func(want int64) {
		t.Helper()
		for {
			msg, err := s.Recv()
			if err != nil {
				t.Fatal(err)
			}
			if msg.Classes[0].AvailableBytes == want {
				return
			}
		}
	}
	next(50)
	if _, err := c.CreateVolume(ctx, &api.CreateVolumeRequest{Name: "a", SizeBytes: 20}); err != nil {
		t.Fatal(err)
	}
	next(30)     // pushed by Notify after the create
	m.setFree(7) // a change made outside the daemon
	next(7)      // seen by the poller
}

// racyBackend lets a change and its Notify land after Refresh has read the
// system and before the hub publishes what it read.
type racyBackend struct {
	*memBackend
	between func()
}

func (r *racyBackend) Refresh(ctx context.Context) (storage.Capacity, error) {
	c, err := r.memBackend.Refresh(ctx)
	r.between()
	return c, err
}

func TestHubPollDoesNotPublishOlderFigures(t *testing.T) {
	m := newMem(50)
	r := &racyBackend{memBackend: m}
	h := NewHub(r, time.Hour, logr.Discard())
	r.between = func() {
		m.setFree(20) // a create finished
		h.Notify()
	}
	h.Poll(context.Background())
	if c, _ := h.Latest(); c[0].AvailableBytes != 20 {
		t.Errorf("after a create raced the poll, the hub says %d bytes free, want 20", c[0].AvailableBytes)
	}
}

func TestHubCoalescesForSlowWatchers(t *testing.T) {
	m := newMem(0)
	h := NewHub(m, time.Hour, logr.Discard())
	ch, cancel := h.Subscribe()
	defer cancel()
	for i := range int64(100) {
		m.setFree(i)
		h.Notify()
	}
	got := <-ch
	if got[0].AvailableBytes != 99 {
		t.Errorf("slow watcher got %d, want the newest figure 99", got[0].AvailableBytes)
	}
	select {
	case extra := <-ch:
		t.Errorf("backlog delivered: %v", extra)
	default:
	}
}

func TestServeUnixGracefulShutdown(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.sock")
	ctx, cancel := context.WithCancel(context.Background())
	inst := Start(ctx, newMem(10), time.Hour, logr.Discard())
	done := make(chan error, 1)
	go func() { done <- inst.ServeUnix(ctx, path) }()
	var conn interface{ Close() error }
	for range 100 {
		if _, err := os.Stat(path); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cc, err := Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	conn = cc
	defer conn.Close()
	cl := api.NewStorageDaemonClient(cc)
	wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer wcancel()
	stream, err := cl.Watch(wctx, &api.WatchRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("server did not stop")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("socket left behind after shutdown")
	}
	if inst.Ready() != nil {
		t.Errorf("ready = %v", inst.Ready())
	}
}
