package scheduler

import (
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/toposuite/toposuite/csi"
)

// nodeIndex holds every node's capacity figures, parsed once per Node
// event, for requests that carry node names only (nodeCacheCapable).
type nodeIndex struct {
	keys *annotationKeys
	mu   sync.RWMutex
	m    map[string]nodeFigures
}

func newNodeIndex(drivers []csi.Driver) *nodeIndex {
	return &nodeIndex{keys: newAnnotationKeys(drivers), m: map[string]nodeFigures{}}
}

func (x *nodeIndex) get(name string) (nodeFigures, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	f, ok := x.m[name]
	return f, ok
}

// Handler returns the Node informer's event handler.
func (x *nodeIndex) Handler() cache.ResourceEventHandler {
	return handler(func(n *corev1.Node, gone bool) {
		x.mu.Lock()
		defer x.mu.Unlock()
		if gone {
			delete(x.m, n.Name)
			return
		}
		x.m[n.Name] = x.keys.figures(n.Annotations)
	})
}

// TrimNode is the Node informer's transform: the extender keeps only a
// node's name and capacity annotations, so a large cluster's nodes cost
// little memory.
func TrimNode(drivers []csi.Driver) cache.TransformFunc {
	keep := newAnnotationKeys(drivers).keep
	return func(obj any) (any, error) {
		n, ok := obj.(*corev1.Node)
		if !ok {
			return obj, nil
		}
		out := &corev1.Node{}
		out.Name, out.ResourceVersion, out.UID = n.Name, n.ResourceVersion, n.UID
		for k, v := range n.Annotations {
			if keep(k) {
				if out.Annotations == nil {
					out.Annotations = map[string]string{}
				}
				out.Annotations[k] = v
			}
		}
		return out, nil
	}
}
