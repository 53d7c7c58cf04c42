package controller

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/toposuite/toposuite/csi"
	"github.com/toposuite/toposuite/internal/daemon"
	api "github.com/toposuite/toposuite/internal/daemonapi"
	"github.com/toposuite/toposuite/internal/storage"
)

// CapacityPublisher keeps the node's capacity annotations current from the
// storage daemon's Watch stream: every change the daemon sees (its own or
// made outside it) reaches the Node within the daemon's poll interval, and
// so GetCapacity, CSIStorageCapacity and the scheduler extender.
type CapacityPublisher struct {
	Client   client.Client
	Daemon   api.StorageDaemonClient
	Driver   csi.Driver
	NodeName string
	Log      logr.Logger

	mu   sync.Mutex
	last *api.CapacityResponse
}

// Latest returns the last capacity received (for the node's metrics).
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

// minInterval spaces the Node patches: a burst of volumes changes the
// capacity many times a second, and the Node needs only the latest figure.
const minInterval = 200 * time.Millisecond

func (p *CapacityPublisher) follow(ctx context.Context) error {
	stream, err := p.Daemon.Watch(ctx, &api.WatchRequest{})
	if err != nil {
		return err
	}
	latest := make(chan *api.CapacityResponse, 1)
	errc := make(chan error, 1)
	go func() {
		for {
			msg, err := stream.Recv()
			if err != nil {
				errc <- err
				return
			}
			p.mu.Lock()
			p.last = msg
			p.mu.Unlock()
			select { // keep only the newest figures
			case <-latest:
			default:
			}
			latest <- msg
		}
	}()
	for {
		select {
		case err := <-errc:
			return err
		case msg := <-latest:
			if err := p.publish(ctx, msg); err != nil {
				p.Log.Error(err, "publishing capacity failed")
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(minInterval):
		}
	}
}

// Annotations returns the Node annotations for a capacity message.
func Annotations(d csi.Driver, msg *api.CapacityResponse) map[string]string {
	out := map[string]string{}
	for _, c := range msg.GetClasses() {
		v := strconv.FormatInt(c.GetAvailableBytes(), 10)
		out[d.CapacityAnnotation(c.GetName())] = v
		if c.GetDefault() {
			out[d.CapacityAnnotation("")] = v
		}
	}
	return out
}

func (p *CapacityPublisher) publish(ctx context.Context, msg *api.CapacityResponse) error {
	var node corev1.Node
	if err := p.Client.Get(ctx, client.ObjectKey{Name: p.NodeName}, &node); err != nil {
		return err
	}
	patch := client.MergeFrom(node.DeepCopy())
	if !applyAnnotations(&node, p.Driver, Annotations(p.Driver, msg)) {
		return nil
	}
	return p.Client.Patch(ctx, &node, patch)
}

// applyAnnotations makes the node's capacity annotations of driver d equal
// to want: new and changed ones are set, and those of classes the daemon no
// longer has are removed. It reports whether anything changed.
func applyAnnotations(node *corev1.Node, d csi.Driver, want map[string]string) bool {
	changed := false
	prefix := d.CapacityAnnotationPrefix()
	for k := range node.Annotations {
		if _, keep := want[k]; !keep && strings.HasPrefix(k, prefix) {
			delete(node.Annotations, k)
			changed = true
		}
	}
	for k, v := range want {
		if node.Annotations[k] != v {
			if node.Annotations == nil {
				node.Annotations = map[string]string{}
			}
			node.Annotations[k] = v
			changed = true
		}
	}
	return changed
}
