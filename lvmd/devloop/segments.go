package devloop

import (
	"context"
	"sync"

	"github.com/toposuite/toposuite/lvmd/lvm"
)

// segmentReader shares PV segment reports between concurrent callers. A
// burst of creates on one volume group (33 at once per node in the
// provisioning benchmark) used to run one `pvs --segments` per volume, each
// waiting its turn for LVM's VG lock behind the lvcreates; now every caller
// that arrives while a read runs waits for the next read, and that one read
// serves them all.
//
// A caller is only ever served by a read that started after it called, so
// the report shows every change the caller made before asking (its own
// lvcreate, above all): sharing never hands out older figures than a read
// of one's own would.
type segmentReader struct {
	read func(context.Context) ([]lvm.PVSegment, error)

	mu      sync.Mutex
	running bool
	next    *segmentRead // the read the next callers join; not started yet
}

type segmentRead struct {
	done    chan struct{}
	callers int // how many wait for it (for tests)
	segs    []lvm.PVSegment
	err     error
}

// get returns the segments of every PV LVM sees, from a read that started
// after the call. The slice is shared: callers must not change it.
func (r *segmentReader) get(ctx context.Context) ([]lvm.PVSegment, error) {
	r.mu.Lock()
	if r.next == nil {
		r.next = &segmentRead{done: make(chan struct{})}
	}
	f := r.next
	f.callers++
	if !r.running {
		r.startLocked(ctx)
	}
	r.mu.Unlock()
	select {
	case <-f.done:
		return f.segs, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// startLocked starts the pending read. It runs apart from the caller's
// cancellation, since others wait for it too; the runner's timeout bounds it.
func (r *segmentReader) startLocked(ctx context.Context) {
	f := r.next
	r.next, r.running = nil, true
	ctx = context.WithoutCancel(ctx)
	go func() {
		f.segs, f.err = r.read(ctx)
		close(f.done)
		r.mu.Lock()
		r.running = false
		if r.next != nil {
			r.startLocked(ctx)
		}
		r.mu.Unlock()
	}()
}
