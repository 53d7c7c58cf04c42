package controller

import (
	"context"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/toposuite/toposuite/csi"
	v1 "github.com/toposuite/toposuite/internal/api/topolvm/v1"
	api "github.com/toposuite/toposuite/internal/daemonapi"
)

// What the OrphanCollector does with a volume no LogicalVolume names.
const (
	// OrphansReport counts it in a metric and records an Event on the
	// Node: an administrator decides.
	OrphansReport = "report"
	// OrphansRemove removes it, as the volume's own owner.
	OrphansRemove = "remove"
)

// ReasonOrphanVolume is the Event reason of a volume no LogicalVolume names.
const ReasonOrphanVolume = "OrphanVolume"

// OrphanCollector finds the volumes on this node's storage daemon that no
// LogicalVolume of this node and driver names: left by a process killed
// between making a volume and recording it, or by an object whose
// finalizer someone removed by hand. Nothing else would ever find them,
// and they hold capacity. A volume is an orphan only once it has been
// seen without an object for Grace, so that a volume whose object is
// being made or deleted right now is never taken for one. Inline ephemeral
// volumes have no object; the node plugin cleans them itself.
type OrphanCollector struct {
	// Client reads this node's LogicalVolumes (the node plugin's cache).
	Client   client.Reader
	Daemon   api.StorageDaemonClient
	Driver   csi.Driver
	NodeName string
	Grace    time.Duration
	// Interval is the time between two scans; Grace/2 when zero.
	Interval time.Duration
	// Action is OrphansReport or OrphansRemove.
	Action string
	Events events.EventRecorder
	Log    logr.Logger

	// seen is when each volume (class/name) was first seen without an
	// object; reported keeps the Event to one per orphan.
	seen     map[string]time.Time
	reported map[string]bool
	gauge    *prometheus.GaugeVec
	now      func() time.Time
}

// OrphanVolumesMetric is the gauge of orphans, labelled node, driver and
// device_class; the suite's alerting rules read it.
const OrphanVolumesMetric = "toposuite_orphan_volumes"

// Collector returns the metric of orphans per device class; register it
// once.
func (o *OrphanCollector) Collector() prometheus.Collector {
	o.init()
	return o.gauge
}

func (o *OrphanCollector) init() {
	if o.gauge != nil {
		return
	}
	o.gauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name:        OrphanVolumesMetric,
		Help:        "Volumes on the node that no LogicalVolume names, past the grace period (left by a killed process or a removed finalizer).",
		ConstLabels: prometheus.Labels{"node": o.NodeName, "driver": o.Driver.Name},
	}, []string{"device_class"})
	o.seen, o.reported = map[string]time.Time{}, map[string]bool{}
	if o.now == nil {
		o.now = time.Now
	}
}

// Start implements manager.Runnable: a scan every Interval until ctx ends.
func (o *OrphanCollector) Start(ctx context.Context) error {
	o.init()
	every := o.Interval
	if every <= 0 {
		every = max(o.Grace/2, time.Second)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := o.Scan(ctx); err != nil && ctx.Err() == nil {
			o.Log.Error(err, "scan for orphan volumes failed")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Scan looks once: it records what it sees, and reports or removes the
// volumes past their grace.
func (o *OrphanCollector) Scan(ctx context.Context) error {
	o.init()
	// The objects are listed before the volumes: an object made after the
	// listing has a volume made after it too, which the next scan sees
	// with its object.
	var lvs v1.LogicalVolumeList
	if err := o.Client.List(ctx, &lvs); err != nil {
		return fmt.Errorf("list LogicalVolumes: %w", err)
	}
	named := map[string]bool{}
	for _, lv := range lvs.Items {
		if lv.Spec.NodeName == o.NodeName && lv.Spec.DriverName == o.Driver.Name {
			named[lv.Spec.Name] = true
		}
	}
	resp, err := o.Daemon.ListVolumes(ctx, &api.ListVolumesRequest{})
	if err != nil {
		return fmt.Errorf("list volumes: %w", err)
	}
	now := o.now()
	present := map[string]bool{}
	counts := map[string]float64{}
	for _, v := range resp.GetVolumes() {
		if named[v.GetName()] || o.Driver.IsEphemeralName(v.GetName()) {
			continue
		}
		key := v.GetDeviceClass() + "/" + v.GetName()
		present[key] = true
		first, ok := o.seen[key]
		if !ok {
			o.seen[key] = now
			continue
		}
		if now.Sub(first) < o.Grace {
			continue
		}
		counts[v.GetDeviceClass()]++
		o.orphan(ctx, v, now.Sub(first))
	}
	for key := range o.seen {
		if !present[key] {
			delete(o.seen, key)
			delete(o.reported, key)
		}
	}
	o.gauge.Reset()
	for class, n := range counts {
		o.gauge.WithLabelValues(class).Set(n)
	}
	return nil
}

func (o *OrphanCollector) orphan(ctx context.Context, v *api.Volume, age time.Duration) {
	key := v.GetDeviceClass() + "/" + v.GetName()
	log := o.Log.WithValues("volume", v.GetName(), "deviceClass", v.GetDeviceClass(), "ownerUID", v.GetOwnerUid())
	if o.Action == OrphansRemove {
		// As the volume's own owner: a volume that an object claimed
		// meanwhile is not removed (the daemon checks the owner).
		_, err := o.Daemon.RemoveVolume(ctx, &api.RemoveVolumeRequest{
			Name: v.GetName(), DeviceClass: v.GetDeviceClass(), OwnerUid: v.GetOwnerUid(), AdoptUnowned: v.GetOwnerUid() == "",
		})
		if err != nil {
			log.Error(err, "could not remove an orphan volume")
			o.event(corev1.EventTypeWarning, "Remove", "volume %s (class %q, %d bytes) is named by no LogicalVolume and could not be removed: %v", v.GetName(), v.GetDeviceClass(), v.GetSizeBytes(), err)
			return
		}
		log.Info("removed an orphan volume", "sizeBytes", v.GetSizeBytes(), "seenFor", age.Round(time.Second).String())
		o.event(corev1.EventTypeNormal, "Remove", "removed volume %s (class %q, %d bytes): no LogicalVolume named it for %s", v.GetName(), v.GetDeviceClass(), v.GetSizeBytes(), age.Round(time.Second))
		delete(o.seen, key)
		return
	}
	if o.reported[key] {
		return
	}
	o.reported[key] = true
	log.Info("orphan volume: no LogicalVolume names it", "sizeBytes", v.GetSizeBytes(), "seenFor", age.Round(time.Second).String())
	o.event(corev1.EventTypeWarning, "Report", "volume %s (class %q, %d bytes, owner %q) is named by no LogicalVolume; it holds capacity until an administrator removes it (or the node plugin runs with --orphan-volumes=remove)", v.GetName(), v.GetDeviceClass(), v.GetSizeBytes(), v.GetOwnerUid())
}

func (o *OrphanCollector) event(kind, action, note string, args ...any) {
	if o.Events == nil {
		return
	}
	// The Node is named by reference: the node plugin may not read Nodes
	// other than its own, and needs no read for an Event.
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: o.NodeName}}
	node.APIVersion, node.Kind = "v1", "Node"
	o.Events.Eventf(node, nil, kind, ReasonOrphanVolume, action, note, args...)
}
