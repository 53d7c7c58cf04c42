package controller

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/toposuite/toposuite/csi"
)

// NodeCapacity reads the capacity node plugins publish as Node annotations
// (csi.Driver.CapacityKey: per class, and per class and lvcreate options
// class), from the informer cache.
type NodeCapacity struct {
	c client.Reader
	d csi.Driver
}

// NewNodeCapacity returns the capacity reader of driver d.
func NewNodeCapacity(c client.Reader, d csi.Driver) *NodeCapacity { return &NodeCapacity{c: c, d: d} }

// Available implements csi.NodeCapacity; a node without the annotation has
// no room: for an options class, a node whose storage daemon does not know
// it (or an older node plugin that publishes no such figure) cannot make
// the volume, or could not be trusted to have room for its real size.
func (n *NodeCapacity) Available(ctx context.Context, node, class, options string) (int64, error) {
	var no corev1.Node
	if err := n.c.Get(ctx, client.ObjectKey{Name: node}, &no); err != nil {
		return 0, err
	}
	v, _ := n.read(&no, class, options)
	return v, nil
}

// Nodes implements csi.NodeCapacity.
func (n *NodeCapacity) Nodes(ctx context.Context, class, options string) (map[string]int64, error) {
	var nodes corev1.NodeList
	if err := n.c.List(ctx, &nodes); err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for i := range nodes.Items {
		if v, ok := n.read(&nodes.Items[i], class, options); ok {
			out[nodes.Items[i].Name] = v
		}
	}
	return out, nil
}

func (n *NodeCapacity) read(no *corev1.Node, class, options string) (int64, bool) {
	key, ok := n.d.CapacityKey(class, options)
	if !ok {
		return 0, false
	}
	s, ok := no.Annotations[key]
	if !ok {
		return 0, false
	}
	v, err := csi.ParseCapacity(s)
	return v, err == nil
}
