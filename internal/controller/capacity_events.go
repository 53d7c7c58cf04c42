package controller

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"

	api "github.com/toposuite/toposuite/internal/daemonapi"
)

// Reasons of the Events the node plugin records on its Node about the
// storage behind its device classes.
const (
	// ReasonStorageMissing: a class's volume group, thin pool or btrfs
	// pool is not there (a disk lost, a VG removed): nothing can be made in
	// it, and its volumes may be gone.
	ReasonStorageMissing = "StorageMissing"
	// ReasonStorageAlmostFull: a class has less room left than the alert
	// share of its size.
	ReasonStorageAlmostFull = "StorageAlmostFull"
	// ReasonThinPoolAlmostFull: a thin pool's data or metadata is filled
	// up to the alert percentage; a full thin pool fails the writes of
	// every volume in it.
	ReasonThinPoolAlmostFull = "ThinPoolAlmostFull"
	// ReasonStorageRecovered: a class that had one of the above is well
	// again.
	ReasonStorageRecovered = "StorageRecovered"
)

// Defaults of the alert thresholds (the node plugins' flags).
const (
	DefaultFreeAlertPercent     = 10
	DefaultThinPoolAlertPercent = 90
)

// CapacityAlerts records an Event on the Node when a device class's
// storage goes missing or almost full, and when it is well again: once per
// change of its state, not at every capacity read (the publisher reads on
// every change of the figures).
type CapacityAlerts struct {
	Recorder events.EventRecorder
	// FreePercent: a class with less room than this share of its size is
	// almost full (0: DefaultFreeAlertPercent; negative: never).
	FreePercent float64
	// ThinPoolPercent: a thin pool with data or metadata at or above this
	// percentage is almost full (0: DefaultThinPoolAlertPercent).
	ThinPoolPercent float64

	mu sync.Mutex
	// state is each class's last state ("" when well) and its message.
	state map[string]alertState
}

type alertState struct{ reason, note string }

// Observe compares a capacity read with the last one and records the
// Events of the classes whose state changed.
func (a *CapacityAlerts) Observe(node *corev1.Node, msg *api.CapacityResponse) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.state == nil {
		a.state = map[string]alertState{}
	}
	for _, c := range msg.GetClasses() {
		now := a.judge(c)
		was := a.state[c.GetName()]
		a.state[c.GetName()] = now
		if now.reason == was.reason { // the figures moved, the state did not
			continue
		}
		switch {
		case now.reason != "":
			a.Recorder.Eventf(node, nil, corev1.EventTypeWarning, now.reason, "CheckCapacity", "%s", now.note)
		case was.reason != "":
			a.Recorder.Eventf(node, nil, corev1.EventTypeNormal, ReasonStorageRecovered, "CheckCapacity",
				"Device class %q is well again (was %s).", c.GetName(), was.reason)
		}
	}
}

// judge says what is wrong with a class, if anything. A class the daemon
// reports with no size has no storage behind it (lvmd reports a class
// whose volume group or thin pool is gone so).
func (a *CapacityAlerts) judge(c *api.ClassCapacity) alertState {
	name := c.GetName()
	if c.GetSizeBytes() <= 0 {
		return alertState{ReasonStorageMissing, fmt.Sprintf("Device class %q has no storage: its volume group or pool is missing on this node. "+
			"No volume of the class can be made here, and its volumes may be unreadable. Check the node's disks and the daemon's configuration.", name)}
	}
	if p := c.GetThinPool(); p != nil {
		limit := a.ThinPoolPercent
		if limit == 0 {
			limit = DefaultThinPoolAlertPercent
		}
		var full []string
		if p.GetDataPercent() >= limit {
			full = append(full, fmt.Sprintf("data %.1f%%", p.GetDataPercent()))
		}
		if p.GetMetadataPercent() >= limit {
			full = append(full, fmt.Sprintf("metadata %.1f%%", p.GetMetadataPercent()))
		}
		if len(full) != 0 {
			sort.Strings(full)
			return alertState{ReasonThinPoolAlmostFull, fmt.Sprintf("Thin pool %q of device class %q is almost full (%s; alert at %.0f%%). "+
				"When it is full, writes to every volume in it fail: grow the pool (lvextend) or delete volumes or snapshots.", p.GetName(), name, strings.Join(full, ", "), limit)}
		}
		return alertState{}
	}
	share := a.FreePercent
	if share == 0 {
		share = DefaultFreeAlertPercent
	}
	if free := 100 * float64(c.GetAvailableBytes()) / float64(c.GetSizeBytes()); free < share {
		return alertState{ReasonStorageAlmostFull, fmt.Sprintf("Device class %q is almost full: %d of %d bytes left (%.1f%%; alert under %.0f%%). "+
			"New volumes and expansions on this node will fail: add a disk to the class or delete volumes.", name, c.GetAvailableBytes(), c.GetSizeBytes(), free, share)}
	}
	return alertState{}
}
