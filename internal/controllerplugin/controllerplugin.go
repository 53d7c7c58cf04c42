// Package controllerplugin runs topolvm-controller for one driver: the CSI
// Identity and Controller services over the LogicalVolume store, with the
// clean-up controllers and the pod mutating webhook, in one
// controller-runtime manager.
package controllerplugin

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/toposuite/toposuite/csi"
	v1 "github.com/toposuite/toposuite/internal/api/topolvm/v1"
	"github.com/toposuite/toposuite/internal/controller"
	"github.com/toposuite/toposuite/internal/scheme"
	"github.com/toposuite/toposuite/internal/webhook"
)

// Options configure the controller plugin.
type Options struct {
	Driver    csi.Driver
	CSISocket string
	// MetricsAddress and HealthAddress: "0" disables.
	MetricsAddress, HealthAddress string
	LeaderElection                bool
	LeaderElectionNamespace       string
	// FastBinding runs controller.FastBinding for the driver's claims
	// and volumes.
	FastBinding bool
	// DeleteClaimsOfDeletedNodes has the node clean-up delete the claims
	// bound to a deleted node's volumes (controller.NodeCleanup.DeleteClaims).
	DeleteClaimsOfDeletedNodes bool
	// LeakGrace is how old a LogicalVolume without a PersistentVolume
	// must be before it is collected; zero disables the collector.
	LeakGrace time.Duration
	// WebhookAddress is where the pod mutating webhook serves HTTPS
	// (host:port, path webhook.PodMutatePath) on every replica; ""
	// disables it.
	WebhookAddress string
	// WebhookCertDir holds the webhook's tls.crt and tls.key, reloaded
	// when they change (a renewed Secret).
	WebhookCertDir string
	RestConfig     *rest.Config
	Log            logr.Logger
}

// Run runs the controller plugin until ctx ends.
func Run(ctx context.Context, o Options) error {
	s, err := scheme.New()
	if err != nil {
		return err
	}
	d := o.Driver
	hooks, err := webhookServer(o.WebhookAddress, o.WebhookCertDir)
	if err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(o.RestConfig, ctrl.Options{
		Scheme: s,
		Logger: o.Log,
		Cache: cache.Options{ByObject: map[client.Object]cache.ByObject{
			&v1.LogicalVolume{}: {Field: fields.OneTermEqualSelector("spec.driverName", d.Name)},
		}},
		Metrics:                 metricsserver.Options{BindAddress: o.MetricsAddress},
		HealthProbeBindAddress:  o.HealthAddress,
		LeaderElection:          o.LeaderElection,
		LeaderElectionID:        d.ShortName() + "-controller." + d.Name,
		LeaderElectionNamespace: o.LeaderElectionNamespace,
		WebhookServer:           hooks,
	})
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}
	store, err := controller.NewStore(ctx, mgr.GetClient(), mgr.GetCache(), d.Name)
	if err != nil {
		return err
	}
	ctl := csi.NewController(d, store, controller.NewNodeCapacity(mgr.GetClient(), d))
	ctl.SetClaimEvents(&controller.ClaimEvents{Reader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder(d.Name + "-controller"),
		Driver: d, Log: o.Log.WithName("claim-events")})
	cleanup := &controller.NodeCleanup{Client: mgr.GetClient(), Driver: d, DeleteClaims: o.DeleteClaimsOfDeletedNodes,
		Log: o.Log.WithName("node-cleanup")}
	if err := cleanup.SetupWithManager(mgr); err != nil {
		return err
	}
	if o.FastBinding {
		steps, err := controller.NewFastBindingSteps(metrics.Registry)
		if err != nil {
			return err
		}
		fb := &controller.FastBinding{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Driver: d, Workers: controller.FastBindingWorkers,
			Steps: steps, Log: o.Log.WithName("fast-binding")}
		if err := fb.SetupWithManager(ctx, mgr); err != nil {
			return err
		}
	}
	if o.LeakGrace > 0 {
		gc := &controller.LeakCollector{Client: mgr.GetClient(), Driver: d, Grace: o.LeakGrace, Log: o.Log.WithName("leak-collector")}
		if err := gc.SetupWithManager(mgr); err != nil {
			return err
		}
	}
	if hooks != nil {
		pods := &webhook.PodMutator{Driver: d, Log: o.Log.WithName("pod-webhook")}
		if err := pods.SetupWithManager(mgr); err != nil {
			return err
		}
		// The Service sends admission requests to ready replicas only.
		if err := mgr.AddReadyzCheck("webhook", hooks.StartedChecker()); err != nil {
			return err
		}
	}
	ready := func() error {
		if !mgr.GetCache().WaitForCacheSync(ctx) {
			return fmt.Errorf("cache not synced")
		}
		return nil
	}
	id := csi.NewIdentity(d.Name, true, ready)
	if err := mgr.Add(everyReplica(func(ctx context.Context) error {
		return csi.Serve(ctx, o.CSISocket, id, ctl, nil, metrics.Registry, o.Log.WithName("csi"))
	})); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("cache", func(*http.Request) error { return ready() }); err != nil {
		return err
	}
	return mgr.Start(ctx)
}

// everyReplica is a runnable that runs whether or not this replica leads:
// the CSI sidecars of every replica talk to their own controller.
type everyReplica func(ctx context.Context) error

func (r everyReplica) Start(ctx context.Context) error { return r(ctx) }
func (r everyReplica) NeedLeaderElection() bool        { return false }

// webhookServer returns the webhook server for an address, nil for "".
func webhookServer(address, certDir string) (crwebhook.Server, error) {
	if address == "" {
		return nil, nil
	}
	host, p, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("webhook address %q: %w", address, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		return nil, fmt.Errorf("webhook address %q: bad port", address)
	}
	if certDir == "" {
		return nil, fmt.Errorf("the webhook at %s needs a certificate directory", address)
	}
	return crwebhook.NewServer(crwebhook.Options{
		Host: host, Port: port, CertDir: certDir,
		// HTTP/1.1 only: HTTP/2 brings stream-reset attacks
		// (CVE-2023-44487) and nothing an admission call needs.
		TLSOpts: []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }},
	}), nil
}
