package scheduler

import (
	"sync"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/toposuite/toposuite/csi"
	v1 "github.com/toposuite/toposuite/internal/api/topolvm/v1"
)

// Ledger knows the capacity promised on each node but not yet counted in
// the node's published figures, from the API server's events:
//
//   - a PVC that kube-scheduler selected for a node (the
//     volume.kubernetes.io/selected-node annotation) and whose
//     LogicalVolume does not exist yet;
//   - a LogicalVolume the node has not created yet;
//   - a LogicalVolume the node has created, until the node's capacity
//     revision reaches the volume's status.capacityRevision.
//
// Subtracting these from the published figures is what keeps a burst of
// pods from being promised the same bytes twice.
type Ledger struct {
	drivers map[string]csi.Driver

	mu      sync.RWMutex
	lvs     map[string]lvEntry           // by object name
	lvNode  keysByNode                   // node -> LV object names
	lvUID   map[string]int               // PVC UID (the suffix of a volume name) -> LVs with it
	pvcs    map[string]pvcEntry          // by namespace/name
	pvcNode keysByNode                   // selected node -> PVC keys
	classes map[string]storageClassEntry // StorageClass name -> driver and class
	waiters map[chan struct{}]struct{}   // woken on every PVC change
}

type lvEntry struct {
	node     string
	key      classKey
	bytes    int64
	created  bool
	revision int64
	uid      string
}

type pvcEntry struct {
	uid          string
	storageClass string
	selectedNode string
	bound        bool
	bytes        int64
}

type storageClassEntry struct {
	driver, class, options string
}

// selectedNodeAnnotation is where kube-scheduler writes the node it chose
// for a WaitForFirstConsumer claim.
const selectedNodeAnnotation = "volume.kubernetes.io/selected-node"

// uidLen is the length of a UID in its usual text form; csi-provisioner
// names volumes <prefix>-<PVC UID>.
const uidLen = 36

// NewLedger returns an empty ledger for the drivers.
func NewLedger(drivers []csi.Driver) *Ledger {
	l := &Ledger{
		drivers: map[string]csi.Driver{},
		lvs:     map[string]lvEntry{}, lvNode: keysByNode{}, lvUID: map[string]int{},
		pvcs: map[string]pvcEntry{}, pvcNode: keysByNode{},
		classes: map[string]storageClassEntry{}, waiters: map[chan struct{}]struct{}{},
	}
	for _, d := range drivers {
		l.drivers[d.Name] = d
	}
	return l
}

// ReservedOn returns the bytes promised on node by key (class and options
// class) beyond the figures published at each driver's revision (0: the
// node publishes no revision, and created volumes are taken as counted);
// nil when nothing is.
func (l *Ledger) ReservedOn(node string, revisions map[string]int64) map[classKey]int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out map[classKey]int64
	add := func(k classKey, n int64) {
		if out == nil {
			out = map[classKey]int64{}
		}
		out[k] = addBytes(out[k], n)
	}
	for name := range l.lvNode[node] {
		e := l.lvs[name]
		if revision := revisions[e.key.Driver]; !e.created || revision > 0 && e.revision > revision {
			add(e.key, e.bytes)
		}
	}
	for key := range l.pvcNode[node] {
		p := l.pvcs[key]
		sc, ok := l.classes[p.storageClass]
		if !ok || l.lvUID[p.uid] > 0 {
			continue
		}
		add(classKey{sc.driver, sc.class, sc.options}, p.bytes)
	}
	return out
}

// claimPlaced says whether kube-scheduler's choice for a claim is visible:
// the claim is bound or has a selected node. Unknown claims are not.
func (l *Ledger) claimPlaced(key string) bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	p, ok := l.pvcs[key]
	// A claim that is gone takes no space anywhere: its pod (deleted with
	// it, or left without it) must not hold bytes on the nodes it was let
	// through to until the record expires.
	return !ok || p.bound || p.selectedNode != ""
}

// claimOfDriver says whether a claim exists, is unbound, and belongs to
// one of the ledger's drivers.
func (l *Ledger) claimOfDriver(key string) bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	p, ok := l.pvcs[key]
	if !ok || p.bound {
		return false
	}
	_, ours := l.classes[p.storageClass]
	return ours
}

// wait returns a channel closed at the next change of a claim.
func (l *Ledger) wait() (<-chan struct{}, func()) {
	ch := make(chan struct{})
	l.mu.Lock()
	l.waiters[ch] = struct{}{}
	l.mu.Unlock()
	return ch, func() {
		l.mu.Lock()
		if _, ok := l.waiters[ch]; ok {
			delete(l.waiters, ch)
			close(ch)
		}
		l.mu.Unlock()
	}
}

// wakeLocked wakes every waiter; l.mu is held for writing.
func (l *Ledger) wakeLocked() {
	for ch := range l.waiters {
		close(ch)
	}
	clear(l.waiters)
}

func (l *Ledger) setLV(name string, e *lvEntry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if old, ok := l.lvs[name]; ok {
		l.lvNode.remove(old.node, name)
		if l.lvUID[old.uid]--; l.lvUID[old.uid] <= 0 {
			delete(l.lvUID, old.uid)
		}
		delete(l.lvs, name)
	}
	if e == nil {
		return
	}
	l.lvs[name] = *e
	l.lvNode.add(e.node, name)
	l.lvUID[e.uid]++
}

func (l *Ledger) setPVC(key string, e *pvcEntry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if old, ok := l.pvcs[key]; ok {
		l.pvcNode.remove(old.selectedNode, key)
		delete(l.pvcs, key)
	}
	if e != nil {
		l.pvcs[key] = *e
		if e.selectedNode != "" && !e.bound {
			l.pvcNode.add(e.selectedNode, key)
		}
	}
	l.wakeLocked()
}

func (l *Ledger) setClass(name string, e *storageClassEntry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e == nil {
		delete(l.classes, name)
	} else {
		l.classes[name] = *e
	}
	l.wakeLocked()
}

// keysByNode lists object keys by node.
type keysByNode map[string]map[string]bool

func (x keysByNode) add(node, key string) {
	if x[node] == nil {
		x[node] = map[string]bool{}
	}
	x[node][key] = true
}

func (x keysByNode) remove(node, key string) {
	delete(x[node], key)
	if len(x[node]) == 0 {
		delete(x, node)
	}
}

// lvEntryOf returns what the ledger keeps of a LogicalVolume, nil when it
// promises nothing (another driver's, or being deleted, or failed).
func (l *Ledger) lvEntryOf(lv *v1.LogicalVolume) *lvEntry {
	if _, ok := l.drivers[lv.Spec.DriverName]; !ok || !lv.DeletionTimestamp.IsZero() {
		return nil
	}
	e := &lvEntry{node: lv.Spec.NodeName, key: classKey{lv.Spec.DriverName, lv.Spec.DeviceClass, lv.Spec.OptionsClass}, bytes: lv.Spec.Size.Value()}
	if n := len(lv.Spec.Name); n >= uidLen {
		e.uid = lv.Spec.Name[n-uidLen:]
	}
	switch {
	case lv.Status.VolumeID != "":
		e.created, e.revision = true, lv.Status.CapacityRevision
		if cur := lv.Status.CurrentSize; cur != nil && cur.Value() < e.bytes {
			if lv.Status.Code != "" {
				// A growth the node refused holds nothing: the volume
				// counts at its size. Holding the refused growth would
				// let one failed expansion close the node to new pods.
				e.bytes = cur.Value()
			} else {
				// A growth the node has not done yet.
				e.created, e.bytes = false, e.bytes-cur.Value()
			}
		}
	case lv.Status.Code != "":
		return nil // the node gave up; the controller deletes it
	}
	return e
}

func (l *Ledger) pvcEntryOf(pvc *corev1.PersistentVolumeClaim) *pvcEntry {
	e := &pvcEntry{uid: string(pvc.UID), selectedNode: pvc.Annotations[selectedNodeAnnotation],
		bound: pvc.Spec.VolumeName != "" || pvc.Status.Phase == corev1.ClaimBound}
	if pvc.Spec.StorageClassName != nil {
		e.storageClass = *pvc.Spec.StorageClassName
	}
	if q, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; ok {
		// A request no volume can have (past the largest volume) is never
		// provisioned, so it holds nothing.
		e.bytes, _ = csi.QuantityBytes(q)
	}
	return e
}

func (l *Ledger) storageClassEntryOf(sc *storagev1.StorageClass) *storageClassEntry {
	d, ok := l.drivers[sc.Provisioner]
	if !ok {
		return nil
	}
	return &storageClassEntry{driver: d.Name, class: sc.Parameters[d.Param(csi.ParamDeviceClass)], options: sc.Parameters[d.Param(csi.ParamOptionsClass)]}
}

// Handlers returns the informer event handlers that keep the ledger.
func (l *Ledger) Handlers() (lvs, pvcs, classes cache.ResourceEventHandler) {
	return handler(func(lv *v1.LogicalVolume, gone bool) {
			if gone {
				l.setLV(lv.Name, nil)
			} else {
				l.setLV(lv.Name, l.lvEntryOf(lv))
			}
		}), handler(func(pvc *corev1.PersistentVolumeClaim, gone bool) {
			key := pvc.Namespace + "/" + pvc.Name
			if gone {
				l.setPVC(key, nil)
			} else {
				l.setPVC(key, l.pvcEntryOf(pvc))
			}
		}), handler(func(sc *storagev1.StorageClass, gone bool) {
			if gone {
				l.setClass(sc.Name, nil)
			} else {
				l.setClass(sc.Name, l.storageClassEntryOf(sc))
			}
		})
}

// handler adapts a typed set-or-delete function to informer events,
// unwrapping the tombstones of deletions the informer missed.
func handler[T any](set func(obj T, gone bool)) cache.ResourceEventHandler {
	typed := func(obj any) (T, bool) {
		if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = t.Obj
		}
		o, ok := obj.(T)
		return o, ok
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if o, ok := typed(obj); ok {
				set(o, false)
			}
		},
		UpdateFunc: func(_, obj any) {
			if o, ok := typed(obj); ok {
				set(o, false)
			}
		},
		DeleteFunc: func(obj any) {
			if o, ok := typed(obj); ok {
				set(o, true)
			}
		},
	}
}
