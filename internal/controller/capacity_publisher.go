package controller

import (
	"context"
	"encoding/json"
	"maps"
	"strconv"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/toposuite/toposuite/csi"
	"github.com/toposuite/toposuite/internal/daemon"
	api "github.com/toposuite/toposuite/internal/daemonapi"
	"github.com/toposuite/toposuite/internal/storage"
)

// CapacityPublisher keeps the node's capacity annotations current and
// numbers every write of them with a revision (the annotation
// Driver.CapacityRevisionAnnotation), so that the scheduler extender knows
// which volumes the figures already count.
//
// Three paths write the Node, one at a time, in the order of their reads:
//   - Promise, called by the node's reconciler after each change it makes
//     through the daemon, returns at once the revision of a write that
//     will read the figures after the call, which the reconciler stores in
//     the volume's status.capacityRevision (the scheduler extender counts
//     the volume itself until the Node shows that revision). The write
//     follows as soon as the one in progress ends: every promise made
//     meanwhile shares it, so a burst of volumes makes few Node patches
//     and no volume waits for one.
//   - The daemon's Watch stream carries every other change (made outside
//     the daemon, or by the daemon for callers other than the reconciler,
//     or removals) to the Node: settleDelay after a change, it reads and
//     writes the figures unless a write that read after the change, or the
//     Node itself, already has them, and then waits minInterval, so that a
//     burst makes few patches and the reconciler's own changes, written
//     for their promises, none.
//   - Events of the Node itself (when Nodes is set): a Node that no longer
//     shows the last write — deleted and registered again by its kubelet,
//     so a new object without annotations, or annotations removed or
//     changed by someone else — is given the current figures again. The
//     capacity did not change then, so neither path above would write.
//
// Every write holds one lock from numbering it to patching the Node, and
// takes its revision before it reads the figures (the daemon's unary
// GetCapacity, which answers from its bookkeeping): the Node never gets a
// lower revision nor older figures than it has, and a write numbered after
// a promise read after it. The stream only triggers a read:
// its messages and the unary answers travel on different connections, so
// which of two figures is newer is known only by the order of the reads.
type CapacityPublisher struct {
	Client   client.Client
	Daemon   api.StorageDaemonClient
	Driver   csi.Driver
	NodeName string
	Log      logr.Logger
	// Nodes, when set, is the cache that holds this node's Node (the node
	// plugin's cache holds only that one); the publisher follows its
	// events to notice a Node that lost the annotations.
	Nodes cache.Informers
	// APIReader reads the Node from the API server when an event shows it
	// without the last write, since the cache may not have seen that write
	// yet; nil means Client.
	APIReader client.Reader
	// Alerts, when set, is shown every capacity read, for the Node's
	// Events about missing or almost full storage.
	Alerts *CapacityAlerts

	// now is the clock revisions start from; nil means time.Now.
	now func() time.Time

	// writing is held from numbering a write to the end of the Node patch
	// that publishes it; rev and written are guarded by it.
	writing sync.Mutex
	// rev is the highest revision written (or maybe written: a patch that
	// failed may still have reached the API server).
	rev int64
	// written are the capacity annotations of the last write that is known
	// to have succeeded, nil when there is none, and writtenTo the UID of
	// the Node it went to.
	written   map[string]string
	writtenTo types.UID
	// readAt is when the read of that write began.
	readAt time.Time

	mu   sync.Mutex
	last *api.CapacityResponse
	// shown is what the Node carries after the last write known to have
	// succeeded, for the Node event handler (which must not wait for
	// writing).
	shown nodeState
	// nodeLost is marked by Node events that do not show the last write.
	nodeLost chan struct{}
	// issued is the highest revision handed out, to a write or a promise.
	issued int64
	// promised is the highest revision promised; promises is marked when
	// it grows.
	promised int64
	promises chan struct{}
}

// Latest returns the last capacity read (for the node's metrics).
func (p *CapacityPublisher) Latest() (storage.Capacity, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.last == nil {
		return nil, false
	}
	return daemon.FromAPICapacity(p.last), true
}

// +kubebuilder:rbac:groups="",resources=nodes,verbs=get;list;watch;patch

// Start implements manager.Runnable: it follows the Watch stream until ctx
// ends, reconnecting after errors.
func (p *CapacityPublisher) Start(ctx context.Context) error {
	if p.Nodes != nil {
		stop, err := p.watchNode(ctx)
		if err != nil {
			return err
		}
		defer stop()
	}
	backoff := 100 * time.Millisecond
	for {
		err := p.follow(ctx)
		if ctx.Err() != nil {
			return nil
		}
		p.Log.Info("capacity stream ended; reconnecting", "error", err, "after", backoff.String())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

const (
	// settleDelay is how long the Watch path waits after a change before
	// it acts: long enough for the reconciler's Sync of its own change to
	// get there first (then the Watch path has nothing left to write),
	// short enough that removals and changes made outside the daemon show
	// at once.
	settleDelay = 20 * time.Millisecond
	// minInterval spaces the Watch path's Node patches: a burst of volumes
	// changes the capacity many times a second, and the Node needs only
	// the latest figure (Sync writes at once, for the reconciler).
	minInterval = 200 * time.Millisecond
	// maxRetryInterval bounds the wait between failed Watch-path writes.
	maxRetryInterval = 5 * time.Second
	// writeTimeout bounds one read and Node patch, so that a hung API
	// server cannot hold the write lock for ever.
	writeTimeout = 30 * time.Second
)

func (p *CapacityPublisher) follow(ctx context.Context) error {
	stream, err := p.Daemon.Watch(ctx, &api.WatchRequest{})
	if err != nil {
		return err
	}
	changed := make(chan struct{}, 1)
	errc := make(chan error, 1)
	var mu sync.Mutex
	var changedAt time.Time // when the last message came
	go func() {
		for {
			if _, err := stream.Recv(); err != nil {
				errc <- err
				return
			}
			mu.Lock()
			changedAt = time.Now()
			mu.Unlock()
			notify(changed)
		}
	}()
	// pause waits d, unless ctx ends or the stream fails first.
	pause := func(d time.Duration) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-errc:
			return err
		case <-time.After(d):
			return nil
		}
	}
	promises := p.promiseQueue()
	retry := minInterval
	for {
		again := changed // what to mark when the write fails
		var wrote bool
		// A promise is kept at once, even right after another write: the
		// extender counts its volume until the Node shows its revision.
		var keeping bool
		var err error
		select {
		case err := <-errc:
			return err
		case <-promises:
			again, keeping = promises, true
			wrote, err = p.keepPromises(ctx)
		case <-p.nodeLost: // nil, never ready, without Nodes
			again = p.nodeLost
			wrote, err = p.recheck(ctx)
		case <-changed:
			if err := pause(settleDelay); err != nil {
				return err
			}
			mu.Lock()
			since := changedAt
			mu.Unlock()
			wrote, err = p.refresh(ctx, since)
		}
		var wait time.Duration
		switch {
		case err != nil:
			retry = min(2*retry, maxRetryInterval)
			p.Log.Error(err, "publishing capacity failed; retrying", "after", retry.String())
			notify(again) // the figures are still to be written
			wait = retry
		case wrote && keeping:
			retry = minInterval
		case wrote:
			retry, wait = minInterval, minInterval
		}
		if wait > 0 {
			if err := pause(wait); err != nil {
				return err
			}
		}
	}
}

// notify marks a one-slot channel.
func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// refresh is the Watch path's write of a change the stream reported at
// since; it reports whether it patched the Node. A write whose read began
// later published figures at least as new (the daemon answers GetCapacity
// with the figures it streams, or newer ones): then nothing is done.
// Otherwise it reads the figures and writes them when they differ from
// those the Node was last given.
func (p *CapacityPublisher) refresh(ctx context.Context, since time.Time) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	p.writing.Lock()
	defer p.writing.Unlock()
	if p.written != nil && p.readAt.After(since) {
		return false, nil
	}
	before := p.rev
	_, err := p.writeLocked(ctx, unlessCached)
	return p.rev != before, err
}

// Promise returns the revision of a Node write that reads the capacity
// figures after the call, and has that write made soon, without waiting
// for it. The revision is above the one the (cached) Node shows, so the
// scheduler extender counts the caller's volume itself until the write
// lands. An error means the Node could not be read; nothing was promised.
// Promises are kept by the running publisher (Start); one made while the
// capacity stream reconnects is kept by the first write after it is back.
func (p *CapacityPublisher) Promise(ctx context.Context) (int64, error) {
	var node corev1.Node
	if err := p.Client.Get(ctx, client.ObjectKey{Name: p.NodeName}, &node); err != nil {
		return 0, err
	}
	onNode, _ := strconv.ParseInt(node.Annotations[p.Driver.CapacityRevisionAnnotation()], 10, 64)
	q := p.promiseQueue()
	p.mu.Lock()
	rev := p.issueLocked(onNode + 1)
	p.promised = rev
	p.mu.Unlock()
	notify(q)
	return rev, nil
}

// promiseQueue returns the channel that Promise marks.
func (p *CapacityPublisher) promiseQueue() chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.promises == nil {
		p.promises = make(chan struct{}, 1)
	}
	return p.promises
}

// issueLocked hands out a revision above every one handed out before and
// at least floor: the clock's nanoseconds, so that a restarted process
// continues above its predecessor's. The caller holds p.mu.
func (p *CapacityPublisher) issueLocked(floor int64) int64 {
	now := time.Now
	if p.now != nil {
		now = p.now
	}
	p.issued = max(now().UnixNano(), p.issued+1, floor)
	return p.issued
}

// keepPromises writes the figures for the promises made so far, unless a
// write numbered after the last of them (so read after it) has landed.
func (p *CapacityPublisher) keepPromises(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	p.writing.Lock()
	defer p.writing.Unlock()
	p.mu.Lock()
	promised := p.promised
	p.mu.Unlock()
	if p.written != nil && p.rev >= promised {
		return false, nil
	}
	rev, err := p.writeLocked(ctx, always)
	if err == nil {
		p.Log.V(1).Info("capacity published", "revision", rev, "promised", promised)
	}
	return err == nil, err
}

// writeMode says when writeLocked may skip the Node patch.
type writeMode int

const (
	// always patches (promises need a revision read after them).
	always writeMode = iota
	// unlessCached skips when the cached Node has the figures of the last
	// write, or may simply not have seen it yet (a lower revision).
	unlessCached
	// unlessLive reads the Node from the API server and skips only when
	// it carries exactly the last write and that has the current figures.
	unlessLive
)

// writeLocked numbers a write, then reads the figures and patches them onto
// the Node with that revision, unless mode lets it skip the patch because
// the Node already shows them. It returns the revision that carries the
// figures. The caller holds p.writing.
func (p *CapacityPublisher) writeLocked(ctx context.Context, mode writeMode) (int64, error) {
	var reader client.Reader = p.Client
	if mode == unlessLive && p.APIReader != nil {
		reader = p.APIReader
	}
	var node corev1.Node
	if err := reader.Get(ctx, client.ObjectKey{Name: p.NodeName}, &node); err != nil {
		return 0, err
	}
	revKey := p.Driver.CapacityRevisionAnnotation()
	onNode, _ := strconv.ParseInt(node.Annotations[revKey], 10, 64)
	// Numbered before the read: a promise numbered lower was made before
	// the read, so these figures count the promised volume. After a
	// restart, the Node holds the previous process's revision.
	p.mu.Lock()
	rev := p.issueLocked(max(p.rev, onNode) + 1)
	p.mu.Unlock()
	readAt := time.Now()
	msg, err := p.Daemon.GetCapacity(ctx, &api.GetCapacityRequest{})
	if err != nil {
		return 0, err
	}
	p.mu.Lock()
	p.last = msg
	p.mu.Unlock()
	if p.Alerts != nil {
		p.Alerts.Observe(&node, msg)
	}
	want := Annotations(p.Driver, msg)
	same := p.written != nil && maps.Equal(want, p.written) && node.UID == p.writtenTo
	var skip bool
	switch mode {
	case unlessCached:
		// The cache may not have seen the last write yet (its revision is
		// lower then): that write stands unless the Node was made anew or
		// shows other figures under the same revision.
		skip = same && (onNode < p.rev || onNode == p.rev && showsAll(&node, want))
	case unlessLive:
		skip = same && onNode == p.rev && showsAll(&node, want)
	}
	if skip {
		p.readAt = readAt // the Node has what this read found
		return p.rev, nil
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"annotations": capacityPatch(&node, p.Driver, p.written, want, rev),
	}})
	if err != nil {
		return 0, err
	}
	p.rev = rev
	if err := p.Client.Patch(ctx, &node, client.RawPatch(types.MergePatchType, patch)); err != nil {
		p.written = nil
		p.setShown(nodeState{})
		return 0, err
	}
	p.written, p.writtenTo, p.readAt = want, node.UID, readAt
	p.setShown(nodeState{uid: node.UID, rev: strconv.FormatInt(rev, 10), annotations: want})
	return rev, nil
}

func showsAll(node *corev1.Node, want map[string]string) bool {
	for k, v := range want {
		if node.Annotations[k] != v {
			return false
		}
	}
	return true
}

// Annotations returns the Node annotations for a capacity message: each
// class's available bytes and, for each lvcreate options class, the largest
// volume of the class made with it (csi.Driver.CapacityKey), under the
// class's name and, for the default class, under the default's too. An
// options class whose name cannot make a key (a dot, or too long) is left
// out: CreateVolume refuses such a StorageClass.
func Annotations(d csi.Driver, msg *api.CapacityResponse) map[string]string {
	out := map[string]string{}
	for _, c := range msg.GetClasses() {
		names := []string{c.GetName()}
		if c.GetDefault() {
			names = append(names, "")
		}
		for _, class := range names {
			out[d.CapacityAnnotation(class)] = strconv.FormatInt(c.GetAvailableBytes(), 10)
			for options, n := range c.GetOptionsClassAvailableBytes() {
				if key, ok := d.CapacityKey(class, options); ok {
					out[key] = strconv.FormatInt(n, 10)
				}
			}
		}
	}
	return out
}

// capacityPatch returns the annotations of a JSON merge patch that gives
// the node driver d's capacity annotations want, numbered rev: every one of
// want is set (also those the node seems to have already, as the node may
// be a stale cached copy), and those of classes or options classes the
// daemon no longer has — on the node or in the previous write — are
// removed (null). The revision
// annotation is set, never removed; other annotations are left alone.
func capacityPatch(node *corev1.Node, d csi.Driver, previous, want map[string]string, rev int64) map[string]*string {
	out := make(map[string]*string, len(want)+1)
	revKey := d.CapacityRevisionAnnotation()
	stale := func(k string) {
		if _, _, ours := d.ParseCapacityKey(k); ours {
			if _, keep := want[k]; !keep {
				out[k] = nil
			}
		}
	}
	for k := range node.Annotations {
		stale(k)
	}
	for k := range previous {
		stale(k)
	}
	for k, v := range want {
		out[k] = &v
	}
	r := strconv.FormatInt(rev, 10)
	out[revKey] = &r
	return out
}
