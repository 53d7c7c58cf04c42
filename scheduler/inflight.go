package scheduler

import (
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// flights are the pods the extender has passed whose placement is not yet
// visible. kube-scheduler decides one pod at a time, but writes its choice
// (the claims' selected-node annotation) in a separate binding step while
// it already asks about the next pod: without this record the next pod
// would be offered bytes the previous one has just taken.
//
// A filter request whose answer depends on such a pod (a node fits if the
// pod went elsewhere and not if it went there) waits, woken by the claim
// events, until the placement shows or InFlightWait passes; after that the
// unresolved pods count on every node they could have gone to. Answers that
// do not depend on them are given at once.
type flights struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[types.UID]*flight
}

type flight struct {
	needs []need
	// claims (namespace/name) whose selected node will say where the pod went.
	claims []string
	// candidates are the nodes the extender let through.
	candidates map[string]bool
	// guess is the node the extender scored best: where the pod most
	// likely went, used for scoring only.
	guess string
	at    time.Time
}

// flightTTL forgets a pod whose placement never showed (it failed
// scheduling later and will be asked about again, or was deleted).
const flightTTL = 30 * time.Second

func newFlights() *flights { return &flights{ttl: flightTTL, m: map[types.UID]*flight{}} }

// podClaims returns the unbound claims of the ledger's drivers a pod uses,
// including the claims of its generic ephemeral volumes.
func podClaims(pod *corev1.Pod, l *Ledger) []string {
	var out []string
	for _, v := range pod.Spec.Volumes {
		var key string
		switch {
		case v.PersistentVolumeClaim != nil:
			key = pod.Namespace + "/" + v.PersistentVolumeClaim.ClaimName
		case v.Ephemeral != nil:
			key = pod.Namespace + "/" + pod.Name + "-" + v.Name
		default:
			continue
		}
		if l.claimOfDriver(key) {
			out = append(out, key)
		}
	}
	return out
}

// begin records a pod the extender let through to candidates; a pod
// asked about again replaces its record.
func (f *flights) begin(uid types.UID, needs []need, claims []string, candidates []string, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(claims) == 0 || len(candidates) == 0 {
		delete(f.m, uid)
		return
	}
	c := make(map[string]bool, len(candidates))
	for _, n := range candidates {
		c[n] = true
	}
	fl := &flight{needs: needs, claims: claims, candidates: c, at: now}
	if len(candidates) == 1 {
		fl.guess = candidates[0]
	}
	f.m[uid] = fl
}

// forget drops a pod's record (it is being asked about again).
func (f *flights) forget(uid types.UID) {
	f.mu.Lock()
	delete(f.m, uid)
	f.mu.Unlock()
}

// setGuess records the node a pod most likely went to.
func (f *flights) setGuess(uid types.UID, node string) {
	f.mu.Lock()
	if fl, ok := f.m[uid]; ok {
		fl.guess = node
	}
	f.mu.Unlock()
}

// unresolved returns the pods whose placement is not visible yet, dropping
// the resolved and the expired ones.
func (f *flights) unresolved(l *Ledger, now time.Time) []*flight {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*flight
	for uid, fl := range f.m {
		if now.Sub(fl.at) > f.ttl || placed(fl, l) {
			delete(f.m, uid)
			continue
		}
		out = append(out, fl)
	}
	return out
}

func placed(fl *flight, l *Ledger) bool {
	for _, c := range fl.claims {
		if !l.claimPlaced(c) {
			return false
		}
	}
	return true
}
