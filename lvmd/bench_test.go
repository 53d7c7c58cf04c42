//go:build integration

package lvmd_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	api "github.com/toposuite/toposuite/internal/daemonapi"
	"github.com/toposuite/toposuite/internal/testutil"
	"github.com/toposuite/toposuite/lvmd/config"
)

// BenchmarkCreateRemove compares lvmd (create + remove over gRPC on its unix
// socket) with the raw lvm CLI doing the same work (lvcreate with the same
// options and tags + lvremove), on the same loop-backed VG, sequentially and
// with 4 concurrent clients. Rounds alternate between the two so that drift
// of the machine hits both alike. Run with `make bench`.
func BenchmarkCreateRemove(b *testing.B) {
	ops := 200
	if s := os.Getenv("TOPOSUITE_BENCH_OPS"); s != "" {
		ops, _ = strconv.Atoi(s)
	}
	r := newRig(b, 4*gib)
	// Measure with the production poll interval: the poll is part of lvmd's cost.
	r.cfg.PollInterval.Duration = time.Second
	const size = 8 * mib
	raw := func(name string) error {
		if _, err := testutil.RunErr(r.env.Env, "lvm", "lvcreate", "-y", "-n", name, "-L", strconv.FormatInt(size, 10)+"b",
			"--addtag", "toposuite.io/owned", "--addtag", "toposuite.io/class=ssd", r.vg); err != nil {
			return err
		}
		_, err := testutil.RunErr(r.env.Env, "lvm", "lvremove", "-y", r.vg+"/"+name)
		return err
	}
	viaLVMD := func(name string) error {
		c := context.Background()
		if _, err := r.client.CreateVolume(c, &api.CreateVolumeRequest{Name: name, SizeBytes: size}); err != nil {
			return err
		}
		_, err := r.client.RemoveVolume(c, &api.RemoveVolumeRequest{Name: name})
		return err
	}

	forEachLVMMode(r, func(mode, tag string) {
		fmt.Printf("\nlvmd with %s\n", mode)
		for _, workers := range []int{1, 4} {
			res := testutil.Compare(b, workers, ops, raw, viaLVMD)
			rs, ls := res.Raw, res.Daemon
			res.Print("create+remove of an 8 MiB LV", workers, "raw lvm", "lvmd")
			ratio := rs.OpsPerSec / ls.OpsPerSec
			fmt.Printf("  ratio lvmd/raw (time per op): %.3fx (p50 %.3fx)\n", ratio, float64(ls.P50)/float64(rs.P50))
			b.ReportMetric(ratio, fmt.Sprintf("lvmd/raw-ratio-%dw-%s", workers, tag))
			b.ReportMetric(ls.OpsPerSec, fmt.Sprintf("lvmd-ops/s-%dw-%s", workers, tag))
			b.ReportMetric(rs.OpsPerSec, fmt.Sprintf("raw-ops/s-%dw-%s", workers, tag))
		}
	})
}

// BenchmarkWatchAfterVGExtend measures how long lvmd's Watch stream takes to
// show the new capacity after a vgextend made outside lvmd, with the default
// poll interval of 1 s.
func BenchmarkWatchAfterVGExtend(b *testing.B) {
	r := newRig(b, 256*mib)
	r.stop()
	r.cfg.PollInterval.Duration = time.Second
	r.start()
	c, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	stream, err := r.client.Watch(c, &api.WatchRequest{})
	if err != nil {
		b.Fatal(err)
	}
	first, err := stream.Recv()
	if err != nil {
		b.Fatal(err)
	}
	base := first.Classes[0].SizeBytes
	var lat []time.Duration
	for range 10 {
		t0 := time.Now()
		r.env.LVM(b, "vgextend", "-y", r.vg, r.extra)
		for {
			m, err := stream.Recv()
			if err != nil {
				b.Fatal(err)
			}
			if m.Classes[0].SizeBytes > base {
				break
			}
		}
		lat = append(lat, time.Since(t0))
		r.env.LVM(b, "vgreduce", r.vg, r.extra)
		for {
			m, err := stream.Recv()
			if err != nil {
				b.Fatal(err)
			}
			if m.Classes[0].SizeBytes == base {
				break
			}
		}
	}
	s := testutil.Summarize(lat, time.Second)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	fmt.Printf("\nWatch latency after an out-of-band vgextend (poll interval 1s, %d runs): p50 %s, max %s (target < 2s)\n",
		len(lat), s.P50.Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
	b.ReportMetric(float64(s.P50.Milliseconds()), "watch-p50-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Milliseconds()), "watch-max-ms")
}

// BenchmarkDevLoopBurst is the node side of issue #5's provisioning
// benchmark on one node: 33 volumes of 1 GiB created at once on one VG with
// the development loop activation, then removed at once, then the same one
// volume after the other. It prints the wall
// time of each burst, the per-call p50/max and the CPU time of the process
// and its children (lvmd runs in process; its lvm and losetup commands are
// children) per volume.
func BenchmarkDevLoopBurst(b *testing.B) {
	n := 33
	if s := os.Getenv("TOPOSUITE_BENCH_BURST"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	r := newRig(b, int64(n+2)*gib)
	pv := strings.TrimSpace(r.env.LVM(b, "pvs", "--noheadings", "-o", "pv_name", "-S", "vg_name="+r.vg))
	b.Cleanup(func() {
		for _, l := range loopsOver(b, pv) {
			testutil.DetachLoop(b, l)
		}
	})
	r.cfg.Activation = config.ActivationDevelopmentLoop
	r.cfg.PollInterval.Duration = time.Second
	// run calls op for every volume, all at once (a burst) or one after
	// the other (as volumes arrive spread out, when no read is shared).
	run := func(what string, atOnce bool, op func(name string) error) {
		lat := make([]time.Duration, n)
		cpu0 := cpuTime()
		t0 := time.Now()
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			call := func() {
				defer wg.Done()
				s := time.Now()
				if err := op(fmt.Sprintf("burst%02d", i)); err != nil {
					b.Error(err)
				}
				lat[i] = time.Since(s)
			}
			if atOnce {
				go call()
			} else {
				call()
			}
		}
		wg.Wait()
		wall := time.Since(t0)
		cpu := cpuTime() - cpu0
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		how := "at once"
		if !atOnce {
			how = "one by one"
		}
		fmt.Printf("  %s of %d %s: all done in %s, per call p50 %s max %s, CPU %s per volume\n", what, n, how,
			wall.Round(time.Millisecond), lat[n/2].Round(time.Millisecond), lat[n-1].Round(time.Millisecond), (cpu / time.Duration(n)).Round(100*time.Microsecond))
		b.ReportMetric(wall.Seconds(), what+"-all-s")
		b.ReportMetric(float64(cpu.Milliseconds())/float64(n), what+"-cpu-ms/vol")
	}
	c := context.Background()
	forEachLVMMode(r, func(mode, tag string) {
		fmt.Printf("\ndevelopment loop activation, burst on one VG, %s (load %s)\n", mode, loadavg())
		create := func(name string) error {
			_, err := r.client.CreateVolume(c, &api.CreateVolumeRequest{Name: name, SizeBytes: gib})
			return err
		}
		remove := func(name string) error {
			_, err := r.client.RemoveVolume(c, &api.RemoveVolumeRequest{Name: name})
			return err
		}
		run("create-"+tag, true, create)
		run("remove-"+tag, true, remove)
		run("create-seq-"+tag, false, create)
		run("remove-seq-"+tag, false, remove)
	})
}

// forEachLVMMode restarts lvmd in each way of running LVM commands (lvm
// shells, the default, then one process a command) and runs f in it.
func forEachLVMMode(r *rig, f func(mode, tag string)) {
	for _, n := range []int{config.DefaultShellProcesses, 0} {
		r.stop()
		r.cfg.LVM.Shell.Processes = &n
		r.start()
		mode, tag := fmt.Sprintf("%d lvm shells", n), "shell"
		if n == 0 {
			mode, tag = "one lvm process a command", "proc"
		}
		f(mode, tag)
	}
}

// cpuTime is the user+system time of this process and of its children,
// reaped (short commands) or still running (lvm shells).
func cpuTime() time.Duration {
	var self, kids syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	d := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return d(self.Utime) + d(self.Stime) + d(kids.Utime) + d(kids.Stime) + liveChildrenCPU()
}

// liveChildrenCPU sums utime and stime of this process's running children
// from /proc (in clock ticks of 10 ms, the kernel's USER_HZ).
func liveChildrenCPU() time.Duration {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var ticks int64
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// Fields after the command name, which is in parentheses: state is
		// the first, ppid the second, utime and stime the 12th and 13th.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) < 13 || f[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + s
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return strings.Join(strings.Fields(string(b))[:3], " ")
}
