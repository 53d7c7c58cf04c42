package controller

import (
	"fmt"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/go-logr/logr"
	"k8s.io/client-go/discovery"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/toposuite/toposuite/deploy/charts"
	"github.com/toposuite/toposuite/internal/operator/monitoring"
	"github.com/toposuite/toposuite/internal/operator/render"
)

// CacheOptions keep the manager's cache to what the operator needs:
// namespaced objects of its own namespace (cluster-scoped ones are not
// affected), so its RBAC stays namespaced for them.
func CacheOptions(namespace string) cache.Options {
	return cache.Options{DefaultNamespaces: map[string]cache.Config{namespace: {}}}
}

// Register builds the reconciler for a manager and adds it. The charts are
// rendered with Helm's lookup against the manager's API server, so the
// webhook certificate the charts make is made once and then kept. The
// health gauges go to reg: the command passes controller-runtime's
// registry (the manager's /metrics); tests pass their own.
func Register(mgr ctrl.Manager, namespace string, reg prometheus.Registerer, log logr.Logger) error {
	rd, err := render.New(charts.FS, mgr.GetConfig(), nil)
	if err != nil {
		return fmt.Errorf("load the embedded charts: %w", err)
	}
	var reader client.Reader = mgr.GetAPIReader()
	d, err := discovery.NewDiscoveryClientForConfig(mgr.GetConfig())
	if err != nil {
		return fmt.Errorf("discovery client: %w", err)
	}
	m := monitoring.NewMetrics()
	if err := reg.Register(m); err != nil {
		return fmt.Errorf("register the health metrics: %w", err)
	}
	r := &Reconciler{Client: mgr.GetClient(), APIReader: reader, Renderer: rd, Namespace: namespace, Log: log, Metrics: m, Discovery: d,
		Events: mgr.GetEventRecorder("topolvm-operator")}
	return r.SetupWithManager(mgr)
}
