// Package freshread shares a read among concurrent callers without ever
// handing one of them a result older than its call. A cache or a plain
// single-flight would: a caller that has just changed something (made a
// logical volume, seen a claim deleted) must see that change in what it
// reads back.
//
// Per key, one read runs at a time. A caller joins the read that will start
// next (never the one already running), so the read that serves it started
// after it asked; everyone who arrives while a read runs shares the next
// one. A burst of N callers costs two or three reads, not N.
package freshread

import (
	"context"
	"sync"
)

// Group shares reads by key. The zero value is ready to use.
type Group[K comparable, V any] struct {
	mu   sync.Mutex
	keys map[K]*key[V]
}

type key[V any] struct {
	running bool
	next    *read[V] // the read the next callers join; not started yet
}

type read[V any] struct {
	done    chan struct{}
	callers int
	val     V
	err     error
}

// Do returns what fn read, from a call of fn for key that started after Do
// was called. Concurrent callers of one key share calls and their results
// (which they must not change); their fns must read the same thing. fn runs
// apart from the caller's cancellation, since others may wait for it, and
// must bound itself; Do itself returns when ctx ends.
func (g *Group[K, V]) Do(ctx context.Context, k K, fn func(context.Context) (V, error)) (V, error) {
	g.mu.Lock()
	if g.keys == nil {
		g.keys = map[K]*key[V]{}
	}
	st := g.keys[k]
	if st == nil {
		st = &key[V]{}
		g.keys[k] = st
	}
	if st.next == nil {
		st.next = &read[V]{done: make(chan struct{})}
	}
	r := st.next
	r.callers++
	if !st.running {
		g.startLocked(context.WithoutCancel(ctx), k, st, fn)
	}
	g.mu.Unlock()
	select {
	case <-r.done:
		return r.val, r.err
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}

// Waiting is how many callers wait for the read of key that has not
// started yet.
func (g *Group[K, V]) Waiting(k K) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if st := g.keys[k]; st != nil && st.next != nil {
		return st.next.callers
	}
	return 0
}

// startLocked starts the pending read of k; when it ends, the read callers
// joined meanwhile starts, or the key is forgotten.
func (g *Group[K, V]) startLocked(ctx context.Context, k K, st *key[V], fn func(context.Context) (V, error)) {
	r := st.next
	st.next, st.running = nil, true
	go func() {
		r.val, r.err = fn(ctx)
		close(r.done)
		g.mu.Lock()
		defer g.mu.Unlock()
		st.running = false
		if st.next != nil {
			g.startLocked(ctx, k, st, fn)
			return
		}
		delete(g.keys, k)
	}()
}
