package scheduler

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/go-logr/logr"
	extenderv1 "k8s.io/kube-scheduler/extender/v1"

	"github.com/toposuite/toposuite/csi"
)

// Extender answers kube-scheduler's filter and prioritize requests from
// the nodes' published capacity minus what the Ledger and the in-flight
// pods have promised.
type Extender struct {
	drivers []csi.Driver
	keys    *annotationKeys
	ledger  *Ledger
	nodes   *nodeIndex
	flights *flights
	scorer  *scorer
	wait    time.Duration
	metrics *metrics
	log     logr.Logger
	now     func() time.Time
}

// NewExtender returns an extender for the configured drivers.
func NewExtender(c *Config, log logr.Logger) *Extender {
	drivers := make([]csi.Driver, len(c.Drivers))
	for i, n := range c.Drivers {
		drivers[i] = csi.Driver{Name: n}
	}
	return &Extender{
		drivers: drivers, keys: newAnnotationKeys(drivers), ledger: NewLedger(drivers), nodes: newNodeIndex(drivers), flights: newFlights(),
		scorer: newScorer(c), wait: c.InFlightWait.Duration, metrics: newMetrics(), log: log, now: time.Now,
	}
}

// placement is one candidate node with its figures for the request.
type placement struct {
	name string
	figs nodeFigures // empty for a node the cache does not know: no class fits
}

// figures returns the candidates of a request with their figures: from
// the request's Node objects, or from the node cache for names.
func (e *Extender) figures(r *request) []placement {
	if r.Full {
		out := make([]placement, len(r.Nodes))
		for i, n := range r.Nodes {
			out[i] = placement{name: n.Name, figs: e.keys.figures(n.Annotations)}
		}
		return out
	}
	out := make([]placement, len(r.Names))
	for i, n := range r.Names {
		f, _ := e.nodes.get(n)
		out[i] = placement{name: n, figs: f}
	}
	return out
}

// load is what is placed on a node, by key: what the ledger holds there
// (pending), what pods whose placement is not visible yet may hold there
// (extra), and the pod itself.
type load struct {
	pending, extra map[classKey]int64
	pod            []need
}

// of returns the load's bytes of key k.
func (l load) of(k classKey) int64 {
	n := addBytes(l.pending[k], l.extra[k])
	for _, p := range l.pod {
		if p.classKey == k {
			n = addBytes(n, p.Bytes)
		}
	}
	return n
}

// left returns the bytes of key k left on node p once all of l is placed
// there: k's figure minus l's bytes of k, minus the footprint of l's bytes
// of the other keys of k's class, whose volumes take the same volume group
// (a raid1 volume takes room from the class's plain volumes, and they
// from it). ok is false when the node has no figure for k.
func (p placement) left(k classKey, l load) (left int64, ok bool) {
	free, ok := p.figs.free[k]
	if !ok {
		return 0, false
	}
	left = subBytes(free, l.of(k))
	other := func(o classKey, n int64) {
		if o != k && o.sameClass(k) && n > 0 {
			left = subBytes(left, p.footprint(o, n))
		}
	}
	for o, n := range l.pending {
		other(o, n)
	}
	for o, n := range l.extra {
		other(o, n)
	}
	for _, n := range l.pod {
		other(n.classKey, n.Bytes)
	}
	return left, true
}

// footprint estimates what n bytes of volumes of key o take from the
// figures of the other keys of its class: a plain volume its size; a
// volume made with an options class its size times the node's plain
// figure over the options class's figure. For a class that is not striped
// that is at least the layout's real footprint, as lvmd's figure for an
// options class is at most the class's free space over the layout's
// footprint per byte (less when the PVs bound it: then this counts more
// than the volume takes, until the node publishes figures with it). So the
// plain figure, and the figures of mirrors, never show room such volumes
// take; a plain volume can lower a striped or parity layout's figure by
// more than its size (it may fill the PV that bounds it), which shows when
// the node publishes its figures.
func (p placement) footprint(o classKey, n int64) int64 {
	if o.Options == "" {
		return n
	}
	plain := p.figs.free[classKey{Driver: o.Driver, Class: o.Class}]
	fig := p.figs.free[o]
	if fig <= 0 {
		return math.MaxInt64 // no room left in that layout: count the class as taken
	}
	est := math.Ceil(float64(n) * float64(plain) / float64(fig))
	if est >= math.MaxInt64 {
		return math.MaxInt64
	}
	return max(n, int64(est))
}

// verdict is the filter's outcome for one candidate.
type verdict struct {
	pass   bool
	reason string
}

// judge decides one node for the pod's needs with the load l (the pod
// included).
func judge(p placement, needs []need, l load) verdict {
	for _, n := range needs {
		left, ok := p.left(n.classKey, l)
		if !ok {
			return verdict{reason: fmt.Sprintf("node has no %s", n.classKey)}
		}
		if left < 0 {
			free := addBytes(left, n.Bytes)
			return verdict{reason: fmt.Sprintf("not enough %s: pod needs %d bytes, %d free", n.classKey, n.Bytes, max(free, 0))}
		}
	}
	return verdict{pass: true}
}

// Filter decides which candidates have room for every class the pod needs.
func (e *Extender) Filter(ctx context.Context, r *request) ([]verdict, error) {
	needs, err := podNeeds(r.Pod, e.drivers)
	if err != nil {
		return nil, err
	}
	e.flights.forget(r.Pod.UID)
	cands := e.figures(r)
	out := make([]verdict, len(cands))
	if len(needs) == 0 {
		for i := range out {
			out[i].pass = true
		}
		return out, nil
	}
	deadline := e.now().Add(e.wait)
	waited := false
	start := e.now()
	for {
		changed, stop := e.ledger.wait()
		others := e.flights.unresolved(e.ledger, e.now())
		certain := true
		for i, p := range cands {
			l := load{pending: e.ledger.ReservedOn(p.name, p.figs.revision), pod: needs}
			out[i] = judge(p, needs, l)
			if !out[i].pass || len(others) == 0 {
				continue
			}
			// Would the node still fit if every unresolved pod that could
			// have gone there did?
			extra := map[classKey]int64{}
			for _, fl := range others {
				if fl.candidates[p.name] {
					for _, n := range fl.needs {
						extra[n.classKey] = addBytes(extra[n.classKey], n.Bytes)
					}
				}
			}
			if len(extra) == 0 {
				continue
			}
			l.extra = extra
			if pess := judge(p, needs, l); !pess.pass {
				if e.now().Before(deadline) {
					certain = false
					break
				}
				pess.reason += " (counting pods whose placement is not visible yet)"
				out[i] = pess
			}
		}
		if certain {
			stop()
			break
		}
		if err := ctx.Err(); err != nil {
			stop()
			return nil, err
		}
		waited = true
		select {
		case <-changed:
		case <-ctx.Done():
		case <-time.After(time.Until(deadline)):
		}
		stop()
	}
	if waited {
		e.metrics.inFlightWait.Observe(e.now().Sub(start).Seconds())
	}
	var passed []string
	for i, v := range out {
		if v.pass {
			passed = append(passed, cands[i].name)
		} else {
			e.metrics.filtered.Inc()
		}
	}
	e.flights.begin(r.Pod.UID, needs, podClaims(r.Pod, e.ledger), passed, e.now())
	return out, nil
}

// Prioritize scores each candidate for the pod.
func (e *Extender) Prioritize(_ context.Context, r *request) (extenderv1.HostPriorityList, error) {
	needs, err := podNeeds(r.Pod, e.drivers)
	if err != nil {
		return nil, err
	}
	cands := e.figures(r)
	out := make(extenderv1.HostPriorityList, len(cands))
	// Pods whose placement is not visible count where they most likely went.
	guessed := map[string]map[classKey]int64{}
	for _, fl := range e.flights.unresolved(e.ledger, e.now()) {
		if fl.guess == "" {
			continue
		}
		if guessed[fl.guess] == nil {
			guessed[fl.guess] = map[classKey]int64{}
		}
		for _, n := range fl.needs {
			guessed[fl.guess][n.classKey] = addBytes(guessed[fl.guess][n.classKey], n.Bytes)
		}
	}
	best, bestScore := "", int64(-1)
	for i, p := range cands {
		out[i].Host = p.name
		if len(needs) == 0 {
			continue
		}
		l := load{pending: e.ledger.ReservedOn(p.name, p.figs.revision), extra: guessed[p.name], pod: needs}
		out[i].Score = e.scorer.node(needs, func(n need) int64 {
			left, _ := p.left(n.classKey, l)
			return left
		})
		if out[i].Score > bestScore {
			best, bestScore = p.name, out[i].Score
		}
	}
	if best != "" {
		e.flights.setGuess(r.Pod.UID, best)
	}
	return out, nil
}
