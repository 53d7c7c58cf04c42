package testutil

import (
	"fmt"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Drive runs n operations, named prefix+index, spread over workers
// goroutines, and returns each operation's latency and the wall time. It is
// the load generator of the benchmarks that compare a daemon with the raw
// tool.
func Drive(b testing.TB, workers, n int, prefix string, op func(name string) error) ([]time.Duration, time.Duration) {
	b.Helper()
	lat := make([]time.Duration, n)
	var wg sync.WaitGroup
	next := make(chan int)
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				t0 := time.Now()
				if err := op(prefix + strconv.Itoa(i)); err != nil {
					b.Error(err)
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return lat, time.Since(start)
}

// Summary is throughput and latency percentiles of a run.
type Summary struct {
	OpsPerSec float64
	P50, P99  time.Duration
}

// Summarize computes a Summary from latencies and the wall time.
func Summarize(lat []time.Duration, wall time.Duration) Summary {
	s := append([]time.Duration(nil), lat...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	pct := func(p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s))))].Round(time.Microsecond) }
	return Summary{OpsPerSec: float64(len(s)) / wall.Seconds(), P50: pct(0.50), P99: pct(0.99)}
}

// Compared is a benchmark of a daemon against the raw tool doing the same work.
type Compared struct {
	Raw, Daemon Summary
	Ops         int
}

// Compare runs raw and daemon alternately, rounds times, n/rounds
// operations each, so that drift of the machine hits both alike.
func Compare(b testing.TB, workers, n int, raw, daemon func(string) error) Compared {
	const rounds = 4
	var rawLat, dLat []time.Duration
	var rawWall, dWall time.Duration
	for round := range rounds {
		lat, wall := Drive(b, workers, n/rounds, "raw"+strconv.Itoa(workers)+"-"+strconv.Itoa(round)+"-", raw)
		rawLat, rawWall = append(rawLat, lat...), rawWall+wall
		lat, wall = Drive(b, workers, n/rounds, "d"+strconv.Itoa(workers)+"-"+strconv.Itoa(round)+"-", daemon)
		dLat, dWall = append(dLat, lat...), dWall+wall
	}
	return Compared{Raw: Summarize(rawLat, rawWall), Daemon: Summarize(dLat, dWall), Ops: len(rawLat)}
}

// Print writes the comparison as a small table headed by what was done.
func (c Compared) Print(what string, workers int, rawName, daemonName string) {
	label := "sequential"
	if workers > 1 {
		label = fmt.Sprintf("%d concurrent clients", workers)
	}
	fmt.Printf("\n%s, %s, %d ops each:\n", what, label, c.Ops)
	fmt.Printf("  %-10s %10s %10s %10s\n", "", "ops/s", "p50", "p99")
	fmt.Printf("  %-10s %10.1f %10s %10s\n", rawName, c.Raw.OpsPerSec, c.Raw.P50, c.Raw.P99)
	fmt.Printf("  %-10s %10.1f %10s %10s\n", daemonName, c.Daemon.OpsPerSec, c.Daemon.P50, c.Daemon.P99)
}
