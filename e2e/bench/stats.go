package bench

import (
	"math"
	"slices"
	"time"
)

// Summary is a latency distribution: count, nearest-rank p50 and p90, max.
type Summary struct {
	N             int
	P50, P90, Max time.Duration
}

// Summarize sorts a copy of d and reads its percentiles; empty gives zero.
func Summarize(d []time.Duration) Summary {
	if len(d) == 0 {
		return Summary{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return Summary{N: len(s), P50: percentile(s, 0.5), P90: percentile(s, 0.9), Max: s[len(s)-1]}
}

// percentile is the nearest-rank percentile of sorted s (p in (0, 1]).
func percentile(s []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// ms prints a duration in milliseconds.
func ms(d time.Duration) string {
	return formatFloat(float64(d.Microseconds())/1000, 0) + " ms"
}

// secs prints a duration in seconds.
func secs(d time.Duration) string { return formatFloat(d.Seconds(), 2) + " s" }
