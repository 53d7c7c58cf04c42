package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	toposuitecsi "github.com/toposuite/toposuite/csi"
	"github.com/toposuite/toposuite/internal/controller"
	"github.com/toposuite/toposuite/internal/scheme"
)

// FloorFastBinding is the suite's fast binding (docs/csi.md) running for
// the floor driver in this process, as topolvm-controller runs it for its
// own drivers: the floor of a driver that does nothing but binds the way
// the suite's drivers do.
type FloorFastBinding struct {
	steps  *prometheus.CounterVec
	cancel context.CancelFunc
	errc   chan error
}

// StartFloorFastBinding starts fast binding for the floor, with the client
// limits of the charts' topolvm-controller (kubeAPIQPS, kubeAPIBurst), and
// returns once its caches are filled.
func StartFloorFastBinding(ctx context.Context, cfg *rest.Config) (*FloorFastBinding, error) {
	s, err := scheme.New()
	if err != nil {
		return nil, err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 200, 500
	// controller-runtime's own logger (its packages log through it too).
	ctrl.SetLogger(logr.Discard())
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: s, Logger: logr.Discard(),
		Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0"})
	if err != nil {
		return nil, err
	}
	steps, err := controller.NewFastBindingSteps(prometheus.NewRegistry())
	if err != nil {
		return nil, err
	}
	fb := &controller.FastBinding{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Driver: toposuitecsi.Driver{Name: FloorDriver},
		Workers: controller.FastBindingWorkers, Steps: steps, Log: logr.Discard()}
	ctx, cancel := context.WithCancel(ctx)
	if err := fb.SetupWithManager(ctx, mgr); err != nil {
		cancel()
		return nil, err
	}
	f := &FloorFastBinding{steps: steps, cancel: cancel, errc: make(chan error, 1)}
	go func() { f.errc <- mgr.Start(ctx) }()
	synced := make(chan bool, 1)
	go func() {
		sctx, scancel := context.WithTimeout(ctx, time.Minute)
		defer scancel()
		synced <- mgr.GetCache().WaitForCacheSync(sctx)
	}()
	select {
	case err := <-f.errc:
		cancel()
		return nil, fmt.Errorf("floor fast binding stopped: %w", err)
	case ok := <-synced:
		if !ok {
			return nil, errors.Join(errors.New("floor fast binding: caches not filled in a minute"), f.Stop())
		}
	}
	return f, nil
}

// Steps says which steps fast binding took.
func (f *FloorFastBinding) Steps() string {
	taken := map[string]float64{}
	for _, step := range fastBindingSteps {
		var m dto.Metric
		if f.steps.WithLabelValues(FloorDriver, step).Write(&m) == nil {
			taken[step] = m.GetCounter().GetValue()
		}
	}
	return StepsSince(nil, taken)
}

// Stop stops fast binding and returns why it ended, if not by Stop.
func (f *FloorFastBinding) Stop() error {
	f.cancel()
	return <-f.errc
}
