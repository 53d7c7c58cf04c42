package scheduler

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/toposuite/toposuite/internal/api/topolvm/v1"
	"github.com/toposuite/toposuite/internal/httpserver"
	"github.com/toposuite/toposuite/internal/scheme"
)

// Options run the extender.
type Options struct {
	Config     *Config
	RestConfig *rest.Config
	Log        logr.Logger
	// Listener, when set, replaces listening on Config.Listen (tests).
	Listener net.Listener
}

// +kubebuilder:rbac:groups="",resources=nodes;persistentvolumeclaims,verbs=get;list;watch
// +kubebuilder:rbac:groups=storage.k8s.io,resources=storageclasses,verbs=get;list;watch
// +kubebuilder:rbac:groups=topolvm.io,resources=logicalvolumes,verbs=get;list;watch

// Run serves the extender until ctx ends. It answers /readyz once its
// informers have synced; until then the verbs answer from what is known.
func Run(ctx context.Context, o Options) error {
	c := o.Config
	e := NewExtender(c, o.Log)
	s, err := scheme.New()
	if err != nil {
		return err
	}
	informers, err := cache.New(o.RestConfig, cache.Options{
		Scheme:           s,
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject:         map[client.Object]cache.ByObject{&corev1.Node{}: {Transform: TrimNode(e.drivers)}},
	})
	if err != nil {
		return fmt.Errorf("create informers: %w", err)
	}
	lvs, pvcs, classes := e.ledger.Handlers()
	for obj, h := range map[client.Object]toolscache.ResourceEventHandler{
		&v1.LogicalVolume{}: lvs, &corev1.PersistentVolumeClaim{}: pvcs, &storagev1.StorageClass{}: classes,
		&corev1.Node{}: e.nodes.Handler(),
	} {
		inf, err := informers.GetInformer(ctx, obj)
		if err != nil {
			return fmt.Errorf("informer for %T: %w", obj, err)
		}
		if _, err := inf.AddEventHandler(h); err != nil {
			return err
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := e.Register(reg); err != nil {
		return err
	}
	var synced atomic.Bool
	ready := func() error {
		if !synced.Load() {
			return errors.New("informers not synced yet")
		}
		return nil
	}
	l := o.Listener
	if l == nil {
		if l, err = net.Listen("tcp", c.Listen); err != nil {
			return err
		}
	}
	srv := &http.Server{
		Handler:           e.Handler(c.MaxRequestBytes, httpserver.Handler(reg, ready)),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       c.RequestTimeout.Duration,
		WriteTimeout:      c.RequestTimeout.Duration,
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	go func() { errc <- informers.Start(ctx) }()
	go func() {
		if informers.WaitForCacheSync(ctx) {
			synced.Store(true)
			o.Log.Info("informers synced; ready")
		}
	}()
	go func() {
		o.Log.Info("serving the scheduler extender", "address", l.Addr().String(), "tls", c.TLS != nil,
			"drivers", c.Drivers, "scoring", c.Scoring)
		if c.TLS != nil {
			errc <- srv.ServeTLS(l, c.TLS.CertFile, c.TLS.KeyFile)
		} else {
			errc <- srv.Serve(l)
		}
	}()
	select {
	case err = <-errc:
		cancel()
	case <-ctx.Done():
	}
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	_ = srv.Shutdown(sctx)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
