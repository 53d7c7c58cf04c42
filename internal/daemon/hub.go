package daemon

import (
	"context"
	"reflect"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"github.com/toposuite/toposuite/internal/storage"
)

// DefaultPollInterval is how often the hub re-reads the system to see
// changes made outside the daemon. One LVM report costs ~6 ms here, so a
// second keeps the cost under 1% of a core while meeting the 2 s promise.
const DefaultPollInterval = time.Second

// Hub keeps the latest capacity and hands every change to the Watch streams.
// It learns of changes two ways: Notify after each change the daemon makes
// (no command is run: the backend's bookkeeping answers), and a poller that
// calls Backend.Refresh every interval for changes made by others.
type Hub struct {
	backend  Backend
	interval time.Duration
	log      logr.Logger

	mu      sync.Mutex
	latest  storage.Capacity
	have    bool
	lastErr error
	subs    map[chan storage.Capacity]struct{}
}

// NewHub returns a hub; call Run to start polling.
func NewHub(b Backend, interval time.Duration, log logr.Logger) *Hub {
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	return &Hub{backend: b, interval: interval, log: log, subs: map[chan storage.Capacity]struct{}{}}
}

// Run polls the backend until ctx ends.
func (h *Hub) Run(ctx context.Context) {
	t := time.NewTicker(h.interval)
	defer t.Stop()
	for {
		h.Poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Poll refreshes the capacity from the system once.
func (h *Hub) Poll(ctx context.Context) {
	// What Refresh returns is not published: a create may finish and
	// Notify between Refresh and the publish, and these older figures would
	// then replace newer ones until the next poll (and the node would
	// advertise space a volume already took). publishCurrent reads the
	// bookkeeping again, which Refresh rebuilt, in publishing order.
	_, err := h.backend.Refresh(ctx)
	h.mu.Lock()
	changed := (err == nil) != (h.lastErr == nil)
	h.lastErr = err
	h.mu.Unlock()
	if err != nil {
		if changed {
			h.log.Error(err, "reading capacity failed; keeping the last figures")
		}
		return
	}
	if changed {
		h.log.Info("reading capacity works again")
	}
	h.publishCurrent()
}

// Notify publishes the backend's own view after a change made by the daemon.
func (h *Hub) Notify() { h.publishCurrent() }

// Err returns the error of the last poll, nil when it worked.
func (h *Hub) Err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lastErr
}

// Latest returns the latest capacity and whether there is one yet.
func (h *Hub) Latest() (storage.Capacity, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.latest, h.have
}

// publishCurrent reads the backend's figures and publishes them if they
// changed. The read happens under the hub's lock, so figures are published
// in the order they were read: two racing Notify calls, or a Notify racing
// a Poll, cannot leave older figures last.
func (h *Hub) publishCurrent() {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.backend.Capacity()
	if h.have && reflect.DeepEqual(c, h.latest) {
		return
	}
	h.latest, h.have = c, true
	for ch := range h.subs {
		offer(ch, c)
	}
}

// offer puts c in a one-slot channel, replacing a value the subscriber has
// not read yet: a slow watcher gets the newest figures, never a backlog.
func offer(ch chan storage.Capacity, c storage.Capacity) {
	select {
	case <-ch:
	default:
	}
	ch <- c
}

// Subscribe returns a channel that receives the latest capacity at once (when
// known) and every change after it, and a function that ends the subscription.
func (h *Hub) Subscribe() (<-chan storage.Capacity, func()) {
	ch := make(chan storage.Capacity, 1)
	h.mu.Lock()
	h.subs[ch] = struct{}{}
	if h.have {
		ch <- h.latest
	}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(h.subs, ch)
		h.mu.Unlock()
	}
}
