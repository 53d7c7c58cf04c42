package cluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Down tears down the cluster of the lab directory o.Dir and removes the
// directory: every process, loop device, cgroup, the bridge, and the
// kernel settings the kubelets changed go back to what they were. It works
// from the state file, and also finds by name what a run killed between
// making a thing and recording it left (processes whose command line names
// the lab, loop devices over its files, the bridge, the nodes' cgroups).
// Running it twice, or with nothing there, is fine. It waits while
// another process's cluster runs (the machine lock).
func Down(ctx context.Context, o Options) error {
	if err := o.defaults(); err != nil {
		return err
	}
	t0 := time.Now()
	logf := func(format string, args ...any) {
		fmt.Fprintf(o.Out, "[%6.1fs] %s\n", time.Since(t0).Seconds(), fmt.Sprintf(format, args...))
	}
	// What Down finds by name (the bridge, toposuite-node* cgroups) is
	// another cluster's while one runs: wait until none does. The cluster
	// of this process (Cluster.Down) holds the lock already.
	if err := acquireMachineLock(ctx, logf); err != nil {
		return err
	}
	defer releaseMachineLock()
	st, err := loadState(o.path(stateName))
	if err != nil {
		return err
	}
	var errs []error
	// Nodes first (their init kills everything in the node), then the
	// control plane in reverse start order.
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, p := range st.Processes {
		if _, isNode := st.Nodes[p.Name]; !isNode {
			continue
		}
		wg.Add(1)
		go func(p Proc) {
			defer wg.Done()
			if err := p.stop(20 * time.Second); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}(p)
	}
	wg.Wait()
	for i := len(st.Processes) - 1; i >= 0; i-- {
		p := st.Processes[i]
		if _, isNode := st.Nodes[p.Name]; isNode {
			continue
		}
		// Nothing of the cluster outlives it (etcd's data goes with the
		// lab), so a short grace is enough.
		t := time.Now()
		if err := p.stop(3 * time.Second); err != nil {
			errs = append(errs, err)
		}
		if d := time.Since(t); d > time.Second {
			logf("%s took %.1f s to stop", p.Name, d.Seconds())
		}
	}
	if n := killStrays(o.Dir); n > 0 {
		logf("killed %d leftover processes naming %s", n, o.Dir)
	}
	logf("processes stopped")
	errs = append(errs, detachLoops(ctx, o.Dir, st.Loops, logf))
	errs = append(errs, removeCgroups(st.Cgroups))
	if _, err := run(ctx, nil, "ip", "link", "show", bridgeName); err == nil {
		if _, err := run(ctx, nil, "ip", "link", "del", bridgeName); err != nil {
			errs = append(errs, err)
		}
	}
	var keys []string
	for k := range st.Sysctls {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := os.WriteFile(sysctlPath(k), []byte(st.Sysctls[k]), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("restore %s: %w", k, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("teardown incomplete (state kept in %s): %w", o.path(stateName), err)
	}
	for _, m := range mountsUnder(o.Dir) {
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil {
			return fmt.Errorf("unmount %s: %w", m, err)
		}
	}
	if err := os.RemoveAll(o.Dir); err != nil {
		return err
	}
	logf("torn down: no process, loop device, cgroup, bridge or mount left; %d kernel settings restored; %s removed", len(keys), o.Dir)
	return nil
}

// killStrays SIGKILLs every process whose command line names dir, except
// this process and its ancestors.
func killStrays(dir string) int {
	spare := map[int]bool{}
	for pid := os.Getpid(); pid > 1; {
		spare[pid] = true
		pid = parentPID(pid)
	}
	entries, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || spare[pid] {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		for _, arg := range strings.Split(string(b), "\x00") {
			if arg == dir || strings.Contains(arg, dir+"/") {
				if syscall.Kill(pid, syscall.SIGKILL) == nil {
					n++
				}
				break
			}
		}
	}
	if n > 0 {
		time.Sleep(500 * time.Millisecond)
	}
	return n
}

func parentPID(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// detachLoops detaches the lab's loop devices, after the loop devices
// over them (lvmd's development-loop activation makes those).
func detachLoops(ctx context.Context, dir string, recorded []Loop, logf func(string, ...any)) error {
	devs := map[string]bool{}
	for _, l := range recorded {
		if b, err := run(ctx, nil, "losetup", "-n", "-O", "BACK-FILE", l.Dev); err == nil && strings.TrimSpace(b) == l.File {
			devs[l.Dev] = true
		}
	}
	out, _ := run(ctx, nil, "losetup", "-n", "-O", "NAME,BACK-FILE", "-l")
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && strings.HasPrefix(f[1], dir+"/") {
			devs[f[0]] = true
		}
	}
	var errs []error
	n := 0
	for dev := range devs {
		over, _ := run(ctx, nil, "losetup", "-n", "-O", "NAME", "-j", dev)
		for _, o := range strings.Fields(over) {
			if err := detach(ctx, o); err != nil {
				errs = append(errs, err)
			} else {
				n++
			}
		}
		if err := detach(ctx, dev); err != nil {
			errs = append(errs, err)
		} else {
			n++
		}
	}
	logf("loop devices detached: %d", n)
	return errors.Join(errs...)
}

func detach(ctx context.Context, dev string) error {
	var err error
	for range 50 {
		if _, err = run(ctx, nil, "losetup", "-d", dev); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("detach %s: %w", dev, err)
}

// removeCgroups removes the nodes' cgroup trees (recorded, and any
// toposuite-node* at a hierarchy's top), deepest first.
func removeCgroups(recorded []string) error {
	roots := map[string]bool{}
	for _, r := range recorded {
		roots[r] = true
	}
	if mounts, err := cgroupMounts(); err == nil {
		for _, m := range mounts {
			found, _ := filepath.Glob(filepath.Join(m, "toposuite-node*"))
			for _, f := range found {
				roots[f] = true
			}
		}
	}
	var errs []error
	for r := range roots {
		var dirs []string
		_ = filepath.WalkDir(r, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
		for _, d := range dirs {
			var err error
			for range 50 {
				if err = syscall.Rmdir(d); err == nil || errors.Is(err, syscall.ENOENT) {
					err = nil
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("rmdir %s: %w", d, err))
			}
		}
	}
	return errors.Join(errs...)
}

// mountsUnder lists the host's mount points under dir, deepest first.
func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && (fields[4] == dir || strings.HasPrefix(fields[4], dir+"/")) {
			out = append(out, fields[4])
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}
