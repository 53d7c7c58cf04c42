package freshread

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
)

// source is a value that changes, read through a gate the test opens.
type source struct {
	mu      sync.Mutex
	value   int
	reads   int
	started chan int // the value each read saw
	gate    chan struct{}
}

func (s *source) read(context.Context) (int, error) {
	s.mu.Lock()
	v := s.value
	s.reads++
	s.mu.Unlock()
	s.started <- v
	<-s.gate
	return v, nil
}

func (s *source) set(v int) { s.mu.Lock(); s.value = v; s.mu.Unlock() }

// waitFor yields until cond holds; what it waits for needs turns, not time.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 1_000_000 {
		if cond() {
			return
		}
		runtime.Gosched()
	}
	t.Fatal("condition never held")
}

func TestCallersShareAReadStartedAfterTheyAsked(t *testing.T) {
	s := &source{value: 1, started: make(chan int, 8), gate: make(chan struct{})}
	var g Group[string, int]
	ctx := context.Background()

	first := make(chan int)
	go func() { v, _ := g.Do(ctx, "k", s.read); first <- v }()
	if v := <-s.started; v != 1 {
		t.Fatalf("the first read saw %d", v)
	}
	// The first read runs; a change made now is not in it. Whoever asks
	// now gets the next read, one for all of them.
	s.set(2)
	var wg sync.WaitGroup
	later := make([]int, 3)
	for i := range later {
		wg.Go(func() { later[i], _ = g.Do(ctx, "k", s.read) })
	}
	waitFor(t, func() bool { return g.Waiting("k") == 3 })
	s.gate <- struct{}{}
	if v := <-first; v != 1 {
		t.Errorf("first caller got %d, want 1", v)
	}
	<-s.started
	s.gate <- struct{}{}
	wg.Wait()
	for i, v := range later {
		if v != 2 {
			t.Errorf("later caller %d got %d, want 2 (a read started after it asked)", i, v)
		}
	}
	s.mu.Lock()
	if s.reads != 2 {
		t.Errorf("%d reads for 4 callers, want 2", s.reads)
	}
	s.mu.Unlock()
	// The key is forgotten once its last read ended.
	waitFor(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return len(g.keys) == 0 })
}

func TestKeysReadApartAndErrorsReachEveryCaller(t *testing.T) {
	var g Group[string, int]
	boom := errors.New("boom")
	if _, err := g.Do(context.Background(), "a", func(context.Context) (int, error) { return 0, boom }); !errors.Is(err, boom) {
		t.Errorf("error %v, want boom", err)
	}
	v, err := g.Do(context.Background(), "b", func(context.Context) (int, error) { return 7, nil })
	if v != 7 || err != nil {
		t.Errorf("key b: %d, %v", v, err)
	}
}

func TestCallerGivesUpWithoutStoppingTheRead(t *testing.T) {
	s := &source{value: 1, started: make(chan int, 8), gate: make(chan struct{})}
	var g Group[string, int]
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { _, err := g.Do(ctx, "k", s.read); done <- err }()
	<-s.started
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled caller: %v", err)
	}
	other := make(chan int)
	go func() { v, _ := g.Do(context.Background(), "k", s.read); other <- v }()
	waitFor(t, func() bool { return g.Waiting("k") == 1 })
	s.gate <- struct{}{} // the first read still ends; the second starts
	<-s.started
	s.gate <- struct{}{}
	if v := <-other; v != 1 {
		t.Errorf("second caller got %d", v)
	}
}
