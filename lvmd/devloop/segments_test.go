package devloop

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/toposuite/toposuite/lvmd/lvm"
)

// Callers arriving while a read runs share the next read; none is served
// by a read that started before it called.
func TestSegmentReaderShares(t *testing.T) {
	var reads atomic.Int32
	release := make(chan struct{})
	started := make(chan int32, 10)
	r := segmentReader{read: func(context.Context) ([]lvm.PVSegment, error) {
		n := reads.Add(1)
		started <- n
		<-release
		return []lvm.PVSegment{{PV: "/dev/loop0", Size: int64(n)}}, nil
	}}
	ctx := context.Background()

	first := make(chan int64)
	go func() {
		segs, err := r.get(ctx)
		if err != nil {
			t.Error(err)
		}
		first <- segs[0].Size
	}()
	if n := <-started; n != 1 {
		t.Fatalf("read %d started first", n)
	}
	// Read 1 runs: these callers must wait for read 2, and share it.
	const later = 5
	var wg sync.WaitGroup
	got := make([]int64, later)
	for i := range later {
		wg.Add(1)
		go func() {
			defer wg.Done()
			segs, err := r.get(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = segs[0].Size
		}()
	}
	for waiting := 0; waiting < later; {
		r.mu.Lock()
		if r.next != nil {
			waiting = r.next.callers
		}
		r.mu.Unlock()
		runtime.Gosched()
	}
	release <- struct{}{} // read 1 ends
	if s := <-first; s != 1 {
		t.Errorf("first caller got read %d, want 1", s)
	}
	if n := <-started; n != 2 {
		t.Fatalf("read %d started second", n)
	}
	close(release)
	wg.Wait()
	for i, s := range got {
		if s != 2 {
			t.Errorf("caller %d got read %d, want 2", i, s)
		}
	}
	if n := reads.Load(); n != 2 {
		t.Errorf("%d reads for %d callers, want 2", n, later+1)
	}
}

// A caller whose context ends stops waiting; the read goes on for others.
func TestSegmentReaderCancel(t *testing.T) {
	release := make(chan struct{})
	r := segmentReader{read: func(context.Context) ([]lvm.PVSegment, error) {
		<-release
		return nil, nil
	}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.get(ctx); err == nil {
		t.Fatal("a cancelled caller got an answer")
	}
	done := make(chan error)
	go func() { _, err := r.get(context.Background()); done <- err }()
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
