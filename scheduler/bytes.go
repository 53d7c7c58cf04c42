package scheduler

import "math"

// addBytes adds byte counts without wrapping: the counts come from pod
// annotations and claims that users write, and a sum that wrapped around
// to a small or negative number would make a full node look empty.
func addBytes(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// subBytes subtracts a byte count without wrapping, for the same reason.
func subBytes(a, b int64) int64 {
	if b > 0 && a < math.MinInt64+b {
		return math.MinInt64
	}
	if b < 0 && a > math.MaxInt64+b {
		return math.MaxInt64
	}
	return a - b
}
