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
	// ClientCAFile, with Config.TLS, names the CA bundle whose
	// certificates the callers of the verbs must present
	// (--tls-client-ca): kube-scheduler's extender tlsConfig.certFile.
	ClientCAFile string
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
	srv, secure, err := newServer(c, o.ClientCAFile, e.Handler(c.MaxRequestBytes, httpserver.Handler(reg, ready)))
	if err != nil {
		return err
	}
	l := o.Listener
	if l == nil {
		if l, err = net.Listen("tcp", c.Listen); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if secure != nil {
		go secure.watch(ctx, o.Log)
	}
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
			"clientCA", o.ClientCAFile, "maxRequestBytes", c.MaxRequestBytes, "drivers", c.Drivers, "scoring", c.Scoring)
		errc <- serve(srv, secure, l)
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

// newServer builds the server of h: HTTPS when c.TLS is set (with
// client certificates when clientCAFile is), else plain HTTP.
func newServer(c *Config, clientCAFile string, h http.Handler) (*http.Server, *serverTLS, error) {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       c.RequestTimeout.Duration,
		WriteTimeout:      c.RequestTimeout.Duration,
	}
	if c.TLS == nil {
		if clientCAFile != "" {
			return nil, nil, errors.New("a client CA needs TLS: give a certificate and key too")
		}
		return srv, nil, nil
	}
	secure, err := newServerTLS(*c.TLS, clientCAFile)
	if err != nil {
		return nil, nil, err
	}
	srv.TLSConfig, srv.Handler = secure.config, secure.handler(h)
	return srv, secure, nil
}

// serve serves srv on l until it is shut down.
func serve(srv *http.Server, secure *serverTLS, l net.Listener) error {
	if secure != nil {
		return srv.ServeTLS(l, "", "") // the certificate comes from srv.TLSConfig
	}
	return srv.Serve(l)
}
