// Package nodeplugin runs a node plugin: topolvm-node and topols-node are
// this package with a different storage daemon (lvmd or btrfsd, remote over
// its socket or embedded in process) and publisher (block device or
// directory). It wires the CSI Identity and Node services, the node's
// LogicalVolume reconciler, the capacity publisher and the clean-up of
// ephemeral volumes left by a restart into one controller-runtime manager
// whose cache holds only this node's objects.
package nodeplugin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/toposuite/toposuite/csi"
	v1 "github.com/toposuite/toposuite/internal/api/topolvm/v1"
	"github.com/toposuite/toposuite/internal/controller"
	"github.com/toposuite/toposuite/internal/daemon"
	api "github.com/toposuite/toposuite/internal/daemonapi"
	"github.com/toposuite/toposuite/internal/scheme"
)

// Options configure a node plugin.
type Options struct {
	Driver   csi.Driver
	NodeName string
	// CSISocket is where the kubelet reaches the plugin.
	CSISocket string
	// TargetRoot is the kubelet's directory; target paths must be under it.
	TargetRoot string
	// KubeletRegistrationPath, when set, makes the plugin register itself
	// with the kubelet, advertising this path of its CSI socket (as the
	// kubelet sees it), instead of a node-driver-registrar sidecar.
	KubeletRegistrationPath string
	// DaemonSocket dials a standalone daemon; Embedded starts one in
	// process instead (exactly one of the two is set).
	DaemonSocket string
	Embedded     func(ctx context.Context) (*daemon.Instance, error)
	Publisher    csi.Publisher
	// MetricNames name the node's capacity gauges (the daemon's names).
	MetricNames daemon.MetricNames
	// MetricsAddress and HealthAddress serve /metrics and /healthz,/readyz ("0" disables).
	MetricsAddress, HealthAddress string
	// Orphans says what to do with a volume of the daemon that no
	// LogicalVolume names once OrphanGrace has passed:
	// controller.OrphansReport, controller.OrphansRemove, or "" or "off"
	// for nothing. OrphanInterval is the time between two scans (default
	// OrphanGrace/2).
	Orphans                     string
	OrphanGrace, OrphanInterval time.Duration
	RestConfig                  *rest.Config
	Log                         logr.Logger

	// FreeAlertPercent and ThinPoolAlertPercent are the thresholds of the
	// Node's Events about almost full storage (controller.CapacityAlerts;
	// 0 for the defaults).
	FreeAlertPercent, ThinPoolAlertPercent float64
}

// Run runs the node plugin until ctx ends.
func Run(ctx context.Context, o Options) error {
	if (o.DaemonSocket == "") == (o.Embedded == nil) {
		return errors.New("exactly one of a daemon socket and an embedded daemon is needed")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	conn, closeConn, err := connect(ctx, o)
	if err != nil {
		return err
	}
	defer closeConn()
	daemonClient := api.NewStorageDaemonClient(conn)

	s, err := scheme.New()
	if err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(o.RestConfig, ctrl.Options{
		Scheme: s,
		Logger: o.Log,
		Cache: cache.Options{ByObject: map[client.Object]cache.ByObject{
			// Only this node's objects: the API server filters by the
			// LogicalVolume's selectable field, so a node never caches
			// the cluster's other volumes.
			&v1.LogicalVolume{}: {Field: fields.OneTermEqualSelector("spec.nodeName", o.NodeName)},
			&corev1.Node{}:      {Field: fields.OneTermEqualSelector("metadata.name", o.NodeName)},
		}},
		Metrics:                metricsserver.Options{BindAddress: o.MetricsAddress},
		HealthProbeBindAddress: o.HealthAddress,
	})
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}
	// The publisher numbers the Node's capacity annotations; the reconciler
	// has it publish after each volume it creates or grows and records the
	// revision in the volume's status, for the scheduler extender. It
	// follows the Node's events to publish again on a Node that lost the
	// annotations (deleted and registered anew by the kubelet).
	pub := &controller.CapacityPublisher{
		Client: mgr.GetClient(), Nodes: mgr.GetCache(), APIReader: mgr.GetAPIReader(),
		Daemon: daemonClient, Driver: o.Driver, NodeName: o.NodeName, Log: o.Log.WithName("capacity"),
		Alerts: &controller.CapacityAlerts{Recorder: mgr.GetEventRecorder(o.Driver.Name + "-node"),
			FreePercent: o.FreeAlertPercent, ThinPoolPercent: o.ThinPoolAlertPercent},
	}
	if err := mgr.Add(pub); err != nil {
		return err
	}
	rec := &controller.NodeVolumeReconciler{
		Client: mgr.GetClient(), Daemon: daemonClient, Driver: o.Driver.Name, NodeName: o.NodeName,
		Log: o.Log.WithName("logicalvolume"), Capacity: pub, Events: mgr.GetEventRecorder(o.Driver.Name + "-node"),
	}
	if err := rec.SetupWithManager(mgr); err != nil {
		return err
	}
	if o.Orphans == controller.OrphansReport || o.Orphans == controller.OrphansRemove {
		orphans := &controller.OrphanCollector{
			Client: mgr.GetCache(), Daemon: daemonClient, Driver: o.Driver, NodeName: o.NodeName,
			Grace: o.OrphanGrace, Interval: o.OrphanInterval, Action: o.Orphans,
			Events: mgr.GetEventRecorder(o.Driver.Name + "-node"), Log: o.Log.WithName("orphans"),
		}
		if err := registerOnce(orphans.Collector()); err != nil {
			return err
		}
		if err := mgr.Add(orphans); err != nil {
			return err
		}
	}
	if err := registerOnce(daemon.NewCapacityCollector(pub.Latest, o.NodeName, o.MetricNames)); err != nil {
		return err
	}
	ready := func() error {
		_, err := daemonClient.GetCapacity(ctx, &api.GetCapacityRequest{})
		return err
	}
	node := csi.NewNode(o.Driver, o.NodeName, daemonClient, o.Publisher, o.TargetRoot, o.Log.WithName("csi"))
	node.OnUnpublished(rec.Released)
	id := csi.NewIdentity(o.Driver.Name, false, ready)
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		if err := node.CleanupEphemeral(ctx); err != nil {
			o.Log.Error(err, "clean-up of leftover ephemeral volumes failed")
		}
		return csi.Serve(ctx, o.CSISocket, id, nil, node, metrics.Registry, o.Log.WithName("csi"))
	})); err != nil {
		return err
	}
	if o.KubeletRegistrationPath != "" {
		if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
			return ServeRegistration(ctx, o.TargetRoot, o.Driver.Name, o.KubeletRegistrationPath, o.Log.WithName("registration"))
		})); err != nil {
			return err
		}
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("daemon", func(*http.Request) error { return ready() }); err != nil {
		return err
	}
	return mgr.Start(ctx)
}

// connect reaches the storage daemon: in process or over its socket.
func connect(ctx context.Context, o Options) (grpc.ClientConnInterface, func(), error) {
	if o.Embedded == nil {
		conn, err := daemon.Dial(o.DaemonSocket)
		if err != nil {
			return nil, nil, err
		}
		return conn, func() { conn.Close() }, nil
	}
	inst, err := o.Embedded(ctx)
	if err != nil {
		return nil, nil, err
	}
	conn, closeFn, err := daemon.InProcess(inst.Server)
	if err != nil {
		return nil, nil, err
	}
	return conn, closeFn, nil
}

// registerOnce registers a collector with the manager's registry; a second
// plugin in one process (tests restart plugins) keeps the first one's.
func registerOnce(c prometheus.Collector) error {
	if err := metrics.Registry.Register(c); err != nil {
		var already prometheus.AlreadyRegisteredError
		if !errors.As(err, &already) {
			return err
		}
	}
	return nil
}
