package controller

import (
	"context"
	"errors"
	"io"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/toposuite/toposuite/csi"
	api "github.com/toposuite/toposuite/internal/daemonapi"
	"github.com/toposuite/toposuite/internal/scheme"
	"github.com/toposuite/toposuite/internal/testutil"
)

// fakeDaemon answers GetCapacity with settable figures of one default
// class "ssd", counts the calls and serves a Watch stream fed by the test.
// Volume calls go to the optional functions; others panic.
type fakeDaemon struct {
	api.StorageDaemonClient

	available atomic.Int64
	reads     atomic.Int64
	// onRead, when set, runs at each GetCapacity with the figures read
	// (to derive them from the order of the reads).
	onRead func() int64
	stream chan *api.CapacityResponse

	create func(*api.CreateVolumeRequest) (*api.VolumeResponse, error)
	resize func(*api.ResizeVolumeRequest) (*api.VolumeResponse, error)
}

func capacityOf(avail int64) *api.CapacityResponse {
	return &api.CapacityResponse{Classes: []*api.ClassCapacity{{Name: "ssd", Default: true, SizeBytes: 1 << 40, AvailableBytes: avail}}}
}

func (f *fakeDaemon) GetCapacity(context.Context, *api.GetCapacityRequest, ...grpc.CallOption) (*api.CapacityResponse, error) {
	f.reads.Add(1)
	if f.onRead != nil {
		return capacityOf(f.onRead()), nil
	}
	return capacityOf(f.available.Load()), nil
}

func (f *fakeDaemon) Watch(ctx context.Context, _ *api.WatchRequest, _ ...grpc.CallOption) (grpc.ServerStreamingClient[api.CapacityResponse], error) {
	return &fakeStream{ctx: ctx, msgs: f.stream}, nil
}

func (f *fakeDaemon) CreateVolume(_ context.Context, r *api.CreateVolumeRequest, _ ...grpc.CallOption) (*api.VolumeResponse, error) {
	return f.create(r)
}

func (f *fakeDaemon) ResizeVolume(_ context.Context, r *api.ResizeVolumeRequest, _ ...grpc.CallOption) (*api.VolumeResponse, error) {
	return f.resize(r)
}

type fakeStream struct {
	grpc.ClientStream
	ctx  context.Context
	msgs chan *api.CapacityResponse
}

func (s *fakeStream) Recv() (*api.CapacityResponse, error) {
	select {
	case <-s.ctx.Done():
		return nil, io.EOF
	case m := <-s.msgs:
		return m, nil
	}
}

const testNode = "node-1"

// publisherRig is a publisher over a fake daemon and a fake API server
// holding one Node; patch hooks run around each Node patch.
type publisherRig struct {
	p       *CapacityPublisher
	daemon  *fakeDaemon
	c       client.Client
	patches atomic.Int64
}

func newPublisherRig(t *testing.T, annotations map[string]string, hook func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch) error) *publisherRig {
	t.Helper()
	s, err := scheme.New()
	if err != nil {
		t.Fatal(err)
	}
	r := &publisherRig{daemon: &fakeDaemon{stream: make(chan *api.CapacityResponse)}}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: testNode, UID: "uid-1", Annotations: annotations}}
	r.c = fake.NewClientBuilder().WithScheme(s).WithObjects(node).WithInterceptorFuncs(interceptor.Funcs{
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			r.patches.Add(1)
			if hook != nil {
				return hook(ctx, c, obj, patch)
			}
			return c.Patch(ctx, obj, patch, opts...)
		},
	}).Build()
	r.p = &CapacityPublisher{Client: r.c, Daemon: r.daemon, Driver: csi.LVMDriver("topolvm.io"), NodeName: testNode, Log: testr.New(t)}
	return r
}

func (r *publisherRig) node(t *testing.T) *corev1.Node {
	t.Helper()
	var n corev1.Node
	if err := r.c.Get(context.Background(), client.ObjectKey{Name: testNode}, &n); err != nil {
		t.Fatal(err)
	}
	return &n
}

// reaches reports whether the Node shows revision rev or a later one.
func (r *publisherRig) reaches(t *testing.T, rev int64) func() bool {
	return func() bool {
		v, _ := strconv.ParseInt(r.node(t).Annotations[r.p.Driver.CapacityRevisionAnnotation()], 10, 64)
		return v >= rev
	}
}

func (r *publisherRig) revision(t *testing.T) int64 {
	t.Helper()
	v, err := strconv.ParseInt(r.node(t).Annotations[r.p.Driver.CapacityRevisionAnnotation()], 10, 64)
	if err != nil {
		t.Fatalf("revision annotation: %v", err)
	}
	return v
}

func TestCapacityPatch(t *testing.T) {
	d := csi.LVMDriver("topolvm.io")
	node := &corev1.Node{}
	node.Annotations = map[string]string{
		"capacity.topolvm.io/old":      "5",   // a class the daemon no longer has
		"capacity.topols.io/fast":      "7",   // another driver's: kept
		"node.alpha.kubernetes.io/ttl": "0",   // not ours: kept
		"capacity.topolvm.io/ssd":      "200", // the same value: set anyway (the node may be a stale copy)
		"topolvm.io/capacity-revision": "41",  // replaced, never removed
	}
	previous := map[string]string{"capacity.topolvm.io/gone": "9", "capacity.topolvm.io/ssd": "100"}
	msg := &api.CapacityResponse{Classes: []*api.ClassCapacity{{Name: "ssd", Default: true, AvailableBytes: 200}, {Name: "hdd", AvailableBytes: 300}}}
	got := capacityPatch(node, d, previous, Annotations(d, msg), 42)
	str := func(s string) *string { return &s }
	want := map[string]*string{
		"capacity.topolvm.io/old": nil, "capacity.topolvm.io/gone": nil,
		"capacity.topolvm.io/ssd": str("200"), "capacity.topolvm.io/00default": str("200"), "capacity.topolvm.io/hdd": str("300"),
		"topolvm.io/capacity-revision": str("42"),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("patch (-want +got):\n%s", diff)
	}
}

// keep promises a revision and keeps the promise at once, as the running
// publisher does on its own; it returns the promised revision and the one
// the Node shows after the write.
func (r *publisherRig) keep(t *testing.T, p *CapacityPublisher) (promised, written int64) {
	t.Helper()
	ctx := context.Background()
	promised, err := p.Promise(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.keepPromises(ctx); err != nil {
		t.Fatal(err)
	}
	written = r.revision(t)
	if written < promised {
		t.Fatalf("promised revision %d, the Node shows %d", promised, written)
	}
	return promised, written
}

// start runs the publisher until the test ends.
func (r *publisherRig) start(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.p.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return ctx
}

// The Node ends up with exactly the daemon's classes, the revision, and
// everything that is not this driver's capacity untouched.
func TestPromiseReplacesCapacityAnnotations(t *testing.T) {
	r := newPublisherRig(t, map[string]string{
		"capacity.topolvm.io/old": "5", "capacity.topols.io/fast": "7", "node.alpha.kubernetes.io/ttl": "0",
		"topolvm.io/capacity-revision": "3",
	}, nil)
	r.daemon.available.Store(200)
	_, rev := r.keep(t, r.p)
	want := map[string]string{
		"capacity.topols.io/fast": "7", "node.alpha.kubernetes.io/ttl": "0",
		"capacity.topolvm.io/ssd": "200", "capacity.topolvm.io/00default": "200",
		"topolvm.io/capacity-revision": strconv.FormatInt(rev, 10),
	}
	if diff := cmp.Diff(want, r.node(t).Annotations); diff != "" {
		t.Errorf("annotations (-want +got):\n%s", diff)
	}
	if latest, ok := r.p.Latest(); !ok || latest[0].AvailableBytes != 200 {
		t.Errorf("Latest() = %v, %v", latest, ok)
	}
}

// Promises and writes draw from one growing sequence, also when the clock
// stands still or is behind the revision a previous process left on the
// Node, so a write always carries a higher revision than every promise
// made before its read.
func TestCapacityRevisionGrows(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := t0
	left := t0.UnixNano() + 1000 // by a previous process, whose clock was ahead
	r := newPublisherRig(t, map[string]string{"topolvm.io/capacity-revision": strconv.FormatInt(left, 10)}, nil)
	r.p.now = func() time.Time { return clock }
	var got []int64
	keep := func(p *CapacityPublisher) {
		t.Helper()
		promised, written := r.keep(t, p)
		got = append(got, promised, written)
	}
	keep(r.p)
	keep(r.p)
	clock = t0.Add(time.Second)
	keep(r.p)
	// The Watch path numbers its writes from the same sequence.
	r.daemon.available.Store(7)
	if _, err := r.p.refresh(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	got = append(got, r.revision(t))
	// A restarted plugin goes on from the Node's revision.
	restarted := &CapacityPublisher{Client: r.c, Daemon: r.daemon, Driver: r.p.Driver, NodeName: testNode, Log: r.p.Log, now: r.p.now}
	keep(restarted)
	s := t0.Add(time.Second).UnixNano()
	want := []int64{left + 1, left + 2, left + 3, left + 4, s, s + 1, s + 2, s + 3, s + 4}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("revisions (-want +got):\n%s", diff)
	}
}

// Promises return without waiting for a write, and those made while a
// write is in progress share the next write, which reads the figures
// after them.
func TestPromisesCoalesce(t *testing.T) {
	patching, release := make(chan struct{}), make(chan struct{})
	var first atomic.Bool
	r := newPublisherRig(t, nil, func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch) error {
		if first.CompareAndSwap(false, true) {
			close(patching)
			<-release
		}
		return c.Patch(ctx, obj, patch)
	})
	r.daemon.available.Store(1000)
	ctx := r.start(t)
	if _, err := r.p.Promise(ctx); err != nil {
		t.Fatal(err)
	}
	<-patching // the first write has read 1000 and is patching the Node

	r.daemon.available.Store(900) // volumes created after that read
	const n = 7
	var last int64
	for range n {
		rev, err := r.p.Promise(ctx) // returns while the write is held
		if err != nil {
			t.Fatal(err)
		}
		if rev <= last {
			t.Errorf("promise %d after %d", rev, last)
		}
		last = rev
	}
	close(release)
	testutil.Eventually(t, "the promises kept", r.reaches(t, last))
	if got := r.node(t).Annotations["capacity.topolvm.io/ssd"]; got != "900" {
		t.Errorf("the Node shows %s bytes, want the figures read after the promises (900)", got)
	}
	time.Sleep(2 * minInterval)
	if p, reads := r.patches.Load(), r.daemon.reads.Load(); p != 2 || reads != 2 {
		t.Errorf("%d promises made %d Node patches and %d reads, want 2 and 2", n+1, p, reads)
	}
}

// With promises and the Watch path writing at once, the Node's revisions
// only grow, its figures only get newer, and the first write that reaches
// a promise's revision carries figures read after the promise.
func TestCapacityWritesNeverGoBack(t *testing.T) {
	type write struct{ rev, read int64 }
	var mu sync.Mutex
	var writes []write
	r := newPublisherRig(t, nil, func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch) error {
		if err := c.Patch(ctx, obj, patch); err != nil {
			return err
		}
		n := obj.(*corev1.Node)
		rev, _ := strconv.ParseInt(n.Annotations["topolvm.io/capacity-revision"], 10, 64)
		read, _ := strconv.ParseInt(n.Annotations["capacity.topolvm.io/ssd"], 10, 64)
		mu.Lock()
		writes = append(writes, write{rev, read})
		mu.Unlock()
		return nil
	})
	var reads atomic.Int64 // the figures are the number of the read
	r.daemon.onRead = func() int64 { return reads.Add(1) }
	ctx := r.start(t)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() { // the stream keeps saying something changed
		for {
			select {
			case <-stop:
				return
			case r.daemon.stream <- capacityOf(0):
			}
		}
	})
	type promise struct{ before, rev int64 }
	var promises []promise
	var pmu sync.Mutex
	var callers sync.WaitGroup
	for range 8 {
		callers.Go(func() {
			for range 15 {
				before := reads.Load()
				rev, err := r.p.Promise(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				pmu.Lock()
				promises = append(promises, promise{before, rev})
				pmu.Unlock()
				time.Sleep(time.Millisecond)
			}
		})
	}
	callers.Wait()
	var last int64
	for _, p := range promises {
		last = max(last, p.rev)
	}
	testutil.Eventually(t, "every promise kept", r.reaches(t, last))
	time.Sleep(2 * minInterval) // let the Watch path write too
	close(stop)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	for i, w := range writes {
		if i > 0 && (w.rev <= writes[i-1].rev || w.read < writes[i-1].read) {
			t.Errorf("write %d (revision %d, read %d) after (revision %d, read %d)", i, w.rev, w.read, writes[i-1].rev, writes[i-1].read)
		}
	}
	for _, p := range promises {
		i := slices.IndexFunc(writes, func(w write) bool { return w.rev >= p.rev })
		if i < 0 || writes[i].read <= p.before {
			t.Errorf("promise of revision %d (after %d reads): kept by write %v", p.rev, p.before, writes[max(i, 0)])
		}
	}
	t.Logf("%d promises, %d Node patches, %d reads", len(promises), len(writes), reads.Load())
}

// The Watch path writes when the figures change, not for every message,
// and retries a failed write without a new message.
func TestWatchPathWritesChanges(t *testing.T) {
	var fail atomic.Bool
	r := newPublisherRig(t, nil, func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch) error {
		if fail.Load() {
			return errors.New("API server down")
		}
		return c.Patch(ctx, obj, patch)
	})
	r.daemon.available.Store(100)
	ctx := r.start(t)
	shows := func(v string) func() bool {
		return func() bool { return r.node(t).Annotations["capacity.topolvm.io/00default"] == v }
	}
	r.daemon.stream <- capacityOf(100)
	testutil.Eventually(t, "the first figures", shows("100"))
	rev := r.revision(t)
	for range 3 {
		r.daemon.stream <- capacityOf(100)
	}
	time.Sleep(3 * minInterval)
	if p := r.patches.Load(); p != 1 {
		t.Errorf("%d patches for unchanged figures, want 1", p)
	}
	// A change the reconciler has promised: the promise's write and the
	// Watch path's make one.
	r.daemon.available.Store(80)
	r.daemon.stream <- capacityOf(80)
	promised, err := r.p.Promise(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if promised <= rev {
		t.Errorf("promised revision %d after %d", promised, rev)
	}
	testutil.Eventually(t, "the promise kept", r.reaches(t, promised))
	time.Sleep(3 * minInterval)
	if p := r.patches.Load(); p != 2 {
		t.Errorf("after a promise: %d patches, want 2 (one of the two paths skips)", p)
	}
	rev = r.revision(t)

	fail.Store(true)
	r.daemon.available.Store(50)
	r.daemon.stream <- capacityOf(50)
	testutil.Eventually(t, "a failed write", func() bool { return r.patches.Load() >= 3 })
	fail.Store(false)
	testutil.Eventually(t, "the retried write", shows("50"))
	if next := r.revision(t); next <= rev {
		t.Errorf("revision %d after %d", next, rev)
	}
}
