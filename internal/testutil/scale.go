package testutil

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	api "github.com/toposuite/toposuite/internal/daemonapi"
)

// ScaleRig is what the volumes-per-node benchmark needs of a daemon
// running in this process (lvmd or btrfsd, embedded as in the node
// plugin): so the process's CPU time and RSS are the daemon's plus this
// idle harness.
type ScaleRig struct {
	// Client returns the client of the daemon now running.
	Client func() api.StorageDaemonClient
	// Restart stops the daemon and starts it again; it returns once the
	// daemon has answered its first request.
	Restart func()
	// OutOfBand makes the i-th change to the storage outside the daemon
	// (a volume made with the raw tool) and returns whether a Watch
	// message shows it, and how to undo it.
	OutOfBand func(i int) (shows func(*api.CapacityResponse) bool, undo func())
	// Create is the request that makes a volume named name.
	Create func(name string) *api.CreateVolumeRequest
}

// ScaleRow is one size of the volumes-per-node table.
type ScaleRow struct {
	Volumes                                    int
	CreateP50, CreateP99, RemoveP50, RemoveP99 time.Duration
	// IdleCPU is the process's CPU time per second of wall time while
	// the daemon polls with a Watch stream open, in percent of one core.
	IdleCPU float64
	RSSMiB  float64
	// OutOfBand is the time from a change made outside the daemon to the
	// Watch message that shows it.
	OutOfBand time.Duration
	// Restart is the time from a stopped daemon to its first answer.
	Restart time.Duration
}

// ScaleSizes reads the volume counts of the volumes-per-node benchmarks
// from TOPOSUITE_SCALE_SIZES (comma-separated; make bench-scale sets it)
// and skips the benchmark without it: at 5,000 volumes it runs for many
// minutes, too long for make bench.
func ScaleSizes(b testing.TB) []int {
	b.Helper()
	var out []int
	for _, f := range strings.Split(os.Getenv("TOPOSUITE_SCALE_SIZES"), ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			continue
		}
		if len(out) > 0 && n <= out[len(out)-1] {
			b.Fatalf("TOPOSUITE_SCALE_SIZES must ascend: %d after %d", n, out[len(out)-1])
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		b.Skip("set TOPOSUITE_SCALE_SIZES (make bench-scale)")
	}
	return out
}

// scaleProbes is how many creates and removes are timed at each size.
const scaleProbes = 40

// MeasureScale grows the daemon's volumes to each size in turn (sizes
// ascending) and measures it there; the volumes stay for the next size.
func MeasureScale(b testing.TB, sizes []int, r ScaleRig) []ScaleRow {
	b.Helper()
	var rows []ScaleRow
	have := 0
	for _, n := range sizes {
		start := time.Now()
		_, _ = Drive(b, 4, n-have, fmt.Sprintf("keep-%d-", n), func(name string) error {
			_, err := r.Client().CreateVolume(context.Background(), r.Create(name))
			return err
		})
		have = n
		fmt.Printf("  %d volumes made (%s)\n", n, time.Since(start).Round(time.Millisecond))
		row := ScaleRow{Volumes: n}
		var creates, removes []time.Duration
		for i := range scaleProbes {
			name := fmt.Sprintf("probe-%d-%d", n, i)
			t0 := time.Now()
			if _, err := r.Client().CreateVolume(context.Background(), r.Create(name)); err != nil {
				b.Fatal(err)
			}
			creates = append(creates, time.Since(t0))
			t0 = time.Now()
			if _, err := r.Client().RemoveVolume(context.Background(), &api.RemoveVolumeRequest{Name: name}); err != nil {
				b.Fatal(err)
			}
			removes = append(removes, time.Since(t0))
		}
		cs, rs := Summarize(creates, time.Second), Summarize(removes, time.Second)
		row.CreateP50, row.CreateP99, row.RemoveP50, row.RemoveP99 = cs.P50, cs.P99, rs.P50, rs.P99

		t0 := time.Now()
		r.Restart()
		row.Restart = time.Since(t0)

		msgs, stop := watch(b, r.Client())
		time.Sleep(2 * time.Second) // the restart's first polls settle
		row.IdleCPU = idleCPU(b, 5*time.Second)
		row.RSSMiB = rssMiB(b)
		shows, undo := r.OutOfBand(n)
		t0 = time.Now()
		row.OutOfBand = waitFor(b, msgs, shows, 30*time.Second).Sub(t0)
		stop()
		undo()
		rows = append(rows, row)
	}
	return rows
}

// PrintScale writes the table and the ratios the targets are stated in:
// create p50 at the largest size over the smallest.
func PrintScale(b *testing.B, what string, rows []ScaleRow) {
	fmt.Printf("\n%s, volumes per node (create/remove: %d sequential each; idle: 5 s with a Watch open):\n", what, scaleProbes)
	fmt.Printf("  %8s %10s %10s %10s %10s %9s %8s %11s %9s\n",
		"volumes", "create p50", "create p99", "remove p50", "remove p99", "idle CPU", "RSS MiB", "out-of-band", "restart")
	for _, r := range rows {
		fmt.Printf("  %8d %10s %10s %10s %10s %8.2f%% %8.1f %11s %9s\n", r.Volumes, r.CreateP50, r.CreateP99,
			r.RemoveP50, r.RemoveP99, r.IdleCPU, r.RSSMiB, r.OutOfBand.Round(time.Millisecond), r.Restart.Round(time.Millisecond))
	}
	if len(rows) > 1 {
		first, last := rows[0], rows[len(rows)-1]
		ratio := float64(last.CreateP50) / float64(first.CreateP50)
		fmt.Printf("  create p50 at %d is %.2fx the figure at %d\n", last.Volumes, ratio, first.Volumes)
		b.ReportMetric(ratio, "create-p50-ratio")
		b.ReportMetric(last.IdleCPU, "idle-cpu-%")
		b.ReportMetric(last.OutOfBand.Seconds(), "out-of-band-s")
	}
}

// watch opens a Watch stream and hands each message, with its arrival
// time, to the returned channel until stop.
func watch(b testing.TB, c api.StorageDaemonClient) (<-chan watched, func()) {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := c.Watch(ctx, &api.WatchRequest{})
	if err != nil {
		cancel()
		b.Fatal(err)
	}
	out := make(chan watched, 64)
	go func() {
		defer close(out)
		for {
			m, err := stream.Recv()
			if err != nil {
				return
			}
			select {
			case out <- watched{m, time.Now()}:
			default: // the measure reads only the latest changes
			}
		}
	}()
	return out, cancel
}

type watched struct {
	msg *api.CapacityResponse
	at  time.Time
}

// waitFor returns the arrival time of the first message that shows.
func waitFor(b testing.TB, msgs <-chan watched, shows func(*api.CapacityResponse) bool, limit time.Duration) time.Time {
	b.Helper()
	deadline := time.After(limit)
	for {
		select {
		case w, ok := <-msgs:
			if !ok {
				b.Fatal("the Watch stream ended")
			}
			if shows(w.msg) {
				return w.at
			}
		case <-deadline:
			b.Fatalf("no Watch message showed the change within %s", limit)
		}
	}
}

// idleCPU is the CPU time of this process and its descendants (lvmd's
// lvm shells live as long as it does) over window, in percent of one
// core; children that ended in the window count through RUSAGE_CHILDREN.
func idleCPU(b testing.TB, window time.Duration) float64 {
	b.Helper()
	cpu := func() time.Duration {
		var ru unix.Rusage
		if err := unix.Getrusage(unix.RUSAGE_CHILDREN, &ru); err != nil {
			b.Fatal(err)
		}
		return treeCPU(b) + time.Duration(ru.Utime.Nano()+ru.Stime.Nano())
	}
	c0, t0 := cpu(), time.Now()
	time.Sleep(window)
	return 100 * float64(cpu()-c0) / float64(time.Since(t0))
}

// userHZ is the unit of /proc/<pid>/stat's times: USER_HZ is 100 on
// every Linux architecture Go runs on.
const userHZ = 100

// treeCPU sums utime+stime of this process and its live descendants from
// /proc.
func treeCPU(b testing.TB) time.Duration {
	b.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		b.Fatal(err)
	}
	parent, ticks := map[int]int{}, map[int]int64{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		// The command name, in parentheses, may hold spaces: fields
		// count from after its closing parenthesis (state is field 3).
		f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
		if len(f) < 13 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		utime, _ := strconv.ParseInt(f[11], 10, 64)
		stime, _ := strconv.ParseInt(f[12], 10, 64)
		parent[pid], ticks[pid] = ppid, utime+stime
	}
	self := os.Getpid()
	var sum int64
	for pid, t := range ticks {
		for p := pid; p > 1; p = parent[p] {
			if p == self {
				sum += t
				break
			}
		}
	}
	return time.Duration(sum) * time.Second / userHZ
}

// rssMiB is this process's resident set.
func rssMiB(b testing.TB) float64 {
	b.Helper()
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kib, _ := strconv.ParseFloat(f[1], 64)
			return kib / 1024
		}
	}
	b.Fatal("no VmRSS in /proc/self/status")
	return 0
}
