package scheduler

import (
	"math"

	extenderv1 "k8s.io/kube-scheduler/extender/v1"
)

// scorer turns the bytes left on a node after placing a pod into the
// extender's score, 0..MaxExtenderPriority (10).
type scorer struct {
	binpack  bool
	divisor  float64
	divisors map[classKey]float64
	weights  map[classKey]float64
}

func newScorer(c *Config) *scorer {
	s := &scorer{binpack: c.Scoring == ScoringBinpack, divisor: float64(c.Divisor.Value()),
		divisors: map[classKey]float64{}, weights: map[classKey]float64{}}
	for _, cl := range c.Classes {
		k := classKey{Driver: cl.Driver, Class: cl.Name}
		if cl.Divisor != nil {
			s.divisors[k] = float64(cl.Divisor.Value())
		}
		if cl.Weight != nil {
			s.weights[k] = *cl.Weight
		}
	}
	return s
}

const maxScore = float64(extenderv1.MaxExtenderPriority)

// class scores one class: spread gives log2(left / divisor) (one point per
// doubling of the space left, so 1 GiB and 1 TiB nodes both get sensible
// scores), binpack the opposite; then the class weight applies. A class's
// divisor and weight apply to its volumes of every options class.
func (s *scorer) class(k classKey, left int64) float64 {
	k.Options = ""
	div := s.divisor
	if d, ok := s.divisors[k]; ok {
		div = d
	}
	raw := 0.0
	if left > 0 {
		raw = math.Floor(math.Log2(float64(left) / div))
	}
	raw = math.Max(0, math.Min(maxScore, raw))
	if s.binpack {
		raw = maxScore - raw
	}
	if w, ok := s.weights[k]; ok {
		raw *= w
	}
	return math.Max(0, math.Min(maxScore, raw))
}

// node scores a node for a pod by its scarcest class: the class that
// would be left shortest decides where the pod should go.
func (s *scorer) node(needs []need, left func(need) int64) int64 {
	score := maxScore
	for _, n := range needs {
		score = math.Min(score, s.class(n.classKey, left(n)))
	}
	return int64(score)
}
