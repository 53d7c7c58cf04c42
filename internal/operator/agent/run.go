package agent

import (
	"context"
	"os"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/toposuite/toposuite/internal/operator/report"
)

// Options say which node the agent reports on, where, and how often.
type Options struct {
	Node, Namespace string
	// Interval between full passes when nothing asks for one sooner.
	Interval time.Duration
	// FileCheck is how often the prepare reports' modification times are
	// compared (a stat each), so that a prepare run is reported within
	// FileCheck, not Interval.
	FileCheck time.Duration
}

// Agent writes its node's report every Interval, when a prepare report
// changes, and when the operator asks (report.RequestRefresh).
type Agent struct {
	collector *Collector
	client    client.WithWatch
	opts      Options
	log       logr.Logger
}

// New returns an agent; Run starts it.
func New(c *Collector, cl client.WithWatch, o Options, log logr.Logger) *Agent {
	if o.Interval <= 0 {
		o.Interval = time.Minute
	}
	if o.FileCheck <= 0 {
		o.FileCheck = 2 * time.Second
	}
	return &Agent{collector: c, client: cl, opts: o, log: log}
}

// Run makes and writes reports until ctx ends. A pass that fails to write
// is logged and retried at the next trigger.
func (a *Agent) Run(ctx context.Context) error {
	refresh := make(chan string, 1)
	go a.watchRefresh(ctx, refresh)
	changed := make(chan struct{}, 1)
	go a.watchFiles(ctx, changed)

	tick := time.NewTicker(a.opts.Interval)
	defer tick.Stop()
	token := ""
	for {
		if err := a.Pass(ctx, token); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			a.log.Error(err, "node report not written; retrying at the next pass")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-changed:
			a.log.V(1).Info("a prepare report changed")
		case token = <-refresh:
			a.log.V(1).Info("refresh requested", "token", token)
		}
	}
}

// Pass collects the node's report once and writes it, answering token.
func (a *Agent) Pass(ctx context.Context, token string) error {
	start := time.Now()
	r, err := a.collector.Collect(ctx, a.opts.Node)
	if err != nil {
		return err
	}
	r.Refreshed = token
	if err := report.Write(ctx, a.client, a.opts.Namespace, r); err != nil {
		return err
	}
	a.log.V(1).Info("node report written", "discovered", len(r.Discovered), "volumeGroups", len(r.VolumeGroups),
		"pools", len(r.Pools), "errors", len(r.Errors), "duration", time.Since(start))
	for _, e := range r.Errors {
		a.log.Info("node report error", "error", e)
	}
	return nil
}

// watchRefresh watches the node's report ConfigMap and sends each new
// refresh token. A watch the API server ends is started again.
func (a *Agent) watchRefresh(ctx context.Context, out chan<- string) {
	name := report.ConfigMapName(a.opts.Node)
	last := ""
	for ctx.Err() == nil {
		w, err := a.client.Watch(ctx, &corev1.ConfigMapList{}, client.InNamespace(a.opts.Namespace),
			client.MatchingFields{"metadata.name": name})
		if err != nil {
			a.log.Error(err, "cannot watch the node report for refresh requests")
			sleep(ctx, a.opts.FileCheck)
			continue
		}
		for ev := range w.ResultChan() {
			cm, ok := ev.Object.(*corev1.ConfigMap)
			if !ok || ev.Type == watch.Deleted {
				continue
			}
			if tok := cm.Annotations[report.AnnotationRefresh]; tok != "" && tok != last {
				last = tok
				select {
				case out <- tok:
				case <-ctx.Done():
				}
			}
		}
		w.Stop()
	}
}

// watchFiles signals when a prepare report appears, disappears or changes.
func (a *Agent) watchFiles(ctx context.Context, out chan<- struct{}) {
	paths := []string{}
	for _, p := range []string{a.collector.sources.LVMDPrepareReport, a.collector.sources.BtrfsdPrepareReport} {
		if p != "" {
			paths = append(paths, a.collector.host(p))
		}
	}
	stamp := func() []time.Time {
		var ts []time.Time
		for _, p := range paths {
			var t time.Time
			if fi, err := os.Stat(p); err == nil {
				t = fi.ModTime()
			}
			ts = append(ts, t)
		}
		return ts
	}
	last := stamp()
	for sleep(ctx, a.opts.FileCheck) {
		now := stamp()
		for i := range now {
			if !now[i].Equal(last[i]) {
				select {
				case out <- struct{}{}:
				default: // a pass is due already
				}
				break
			}
		}
		last = now
	}
}

// sleep waits d; false when ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
