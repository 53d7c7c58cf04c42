package csi

import (
	"context"
	"sync"

	api "github.com/toposuite/toposuite/internal/daemonapi"
)

// ephemeralIndex knows the inline ephemeral volumes of this node and their
// device classes, so that an unpublish (every pod's teardown) needs no
// daemon listing to learn whether its volume is one to remove. Only this
// node plugin makes ephemeral volumes, so once one listing has been read
// (at start), the index holds every one: those listed plus those published
// since. Until a listing succeeds it is not complete, and callers list.
type ephemeralIndex struct {
	mu       sync.Mutex
	complete bool
	classes  map[string]string // daemon name -> device class
}

// fill adds the ephemeral volumes of a listing and marks the index
// complete. Names added since the listing was read stay.
func (x *ephemeralIndex) fill(d Driver, vols []*api.Volume) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.classes == nil {
		x.classes = map[string]string{}
	}
	for _, v := range vols {
		if d.IsEphemeralName(v.GetName()) {
			x.classes[v.GetName()] = v.GetDeviceClass()
		}
	}
	x.complete = true
}

func (x *ephemeralIndex) add(name, class string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.classes == nil {
		x.classes = map[string]string{}
	}
	x.classes[name] = class
}

func (x *ephemeralIndex) remove(name string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	delete(x.classes, name)
}

// lookup returns the class of the ephemeral volume name; known is false
// when the index cannot tell (no listing read yet).
func (x *ephemeralIndex) lookup(name string) (class string, found, known bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	class, found = x.classes[name]
	return class, found, x.complete
}

// ephemeral returns the daemon name and class of the inline ephemeral
// volume with CSI volume ID id, if this node has one; it lists the
// daemon's volumes only while the index is incomplete.
func (n *Node) ephemeral(ctx context.Context, id string) (name, class string, found bool, err error) {
	name = n.d.EphemeralName(id)
	if class, found, known := n.eph.lookup(name); known {
		return name, class, found, nil
	}
	list, err := n.daemon.ListVolumes(ctx, &api.ListVolumesRequest{})
	if err != nil {
		return "", "", false, toStatus(err)
	}
	n.eph.fill(n.d, list.GetVolumes())
	class, found, _ = n.eph.lookup(name)
	return name, class, found, nil
}
