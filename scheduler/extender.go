package scheduler

import (
	"context"
	"fmt"
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

// left returns the bytes of class n on node p not yet promised, before
// the pod itself.
func (e *Extender) left(p placement, k classKey) (int64, bool) {
	free, ok := p.figs.free[k]
	if !ok {
		return 0, false
	}
	return subBytes(free, e.ledger.Reserved(p.name, k, p.figs.revision[k.Driver])), true
}

// verdict is the filter's outcome for one candidate.
type verdict struct {
	pass   bool
	reason string
}

// judge decides one node; extra is what in-flight pods may hold there.
func (e *Extender) judge(p placement, needs []need, extra map[classKey]int64) verdict {
	for _, n := range needs {
		left, ok := e.left(p, n.classKey)
		if !ok {
			return verdict{reason: fmt.Sprintf("node has no %s", n.classKey)}
		}
		if left = subBytes(left, extra[n.classKey]); left < n.Bytes {
			return verdict{reason: fmt.Sprintf("not enough %s: pod needs %d bytes, %d free", n.classKey, n.Bytes, max(left, 0))}
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
			out[i] = e.judge(p, needs, nil)
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
			if pess := e.judge(p, needs, extra); !pess.pass {
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
		out[i].Score = e.scorer.node(needs, func(n need) int64 {
			left, _ := e.left(p, n.classKey)
			return subBytes(subBytes(left, guessed[p.name][n.classKey]), n.Bytes)
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
