package controller

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
)

// The capacity figures only trigger writes when they change, but the Node
// can lose them without any change: when it is deleted, its kubelet
// registers a new Node object with no annotations, and the controller's
// NodeCleanup, which puts its finalizer only on Nodes that carry the
// capacity annotations, would leave that Node unprotected and the
// scheduler would give it no volumes. So the publisher follows its own
// Node's events and publishes again when the Node stops showing the last
// write; a Node that shows it costs no API call.

// nodeState is what the Node carries after a write: the object written to,
// the revision and the capacity annotations.
type nodeState struct {
	uid         types.UID
	rev         string
	annotations map[string]string
}

func (p *CapacityPublisher) setShown(s nodeState) {
	p.mu.Lock()
	p.shown = s
	p.mu.Unlock()
}

// shows reports whether node carries the last write, as far as is known
// without the write lock.
func (p *CapacityPublisher) shows(node *corev1.Node) bool {
	p.mu.Lock()
	s := p.shown
	p.mu.Unlock()
	return s.annotations != nil && node.UID == s.uid &&
		node.Annotations[p.Driver.CapacityRevisionAnnotation()] == s.rev && showsAll(node, s.annotations)
}

// watchNode registers a handler of this node's Node events that marks
// p.nodeLost when the Node does not show the last write (also at the first
// event, before any write). It returns the handler's removal.
func (p *CapacityPublisher) watchNode(ctx context.Context) (func(), error) {
	p.nodeLost = make(chan struct{}, 1)
	inf, err := p.Nodes.GetInformer(ctx, &corev1.Node{})
	if err != nil {
		return nil, fmt.Errorf("node informer: %w", err)
	}
	check := func(obj any) {
		// The cache may hold other Nodes when it is not limited to this one.
		if node, ok := obj.(*corev1.Node); ok && node.Name == p.NodeName && !p.shows(node) {
			notify(p.nodeLost)
		}
	}
	reg, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { check(obj) },
		UpdateFunc: func(_, obj any) { check(obj) },
	})
	if err != nil {
		return nil, fmt.Errorf("node event handler: %w", err)
	}
	return func() {
		if err := inf.RemoveEventHandler(reg); err != nil {
			p.Log.Error(err, "removing the node event handler failed")
		}
	}, nil
}

// recheck is the Node event path's write: it reads the Node from the API
// server (an event may be older than the last write) and, unless it
// carries the last write with figures still current, publishes them again
// under a new revision. It reports whether it patched the Node.
func (p *CapacityPublisher) recheck(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	p.writing.Lock()
	defer p.writing.Unlock()
	before := p.rev
	_, err := p.writeLocked(ctx, unlessLive)
	if p.rev != before && err == nil {
		p.Log.Info("capacity published again: the Node did not show it", "revision", p.rev)
	}
	return p.rev != before, err
}
