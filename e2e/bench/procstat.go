package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The kernel's process accounting, read from /proc. Containers' processes
// inside the nodes' PID namespaces are visible from the host's /proc under
// their host PIDs.

// clockTicks is USER_HZ, the unit of the CPU times in /proc/<pid>/stat
// (100 on every Linux architecture Go supports).
const clockTicks = 100

// procStat is what one /proc/<pid>/stat line says about a process.
type procStat struct {
	PPID int
	// Start is the start time in ticks since boot: with the PID it names a
	// process (PIDs are reused).
	Start uint64
	// CPUTicks is user + system time of the process and of its waited-for
	// children (lvm commands run by lvmd count for lvmd).
	CPUTicks uint64
	// RSSPages is the resident set size in pages.
	RSSPages int64
}

// parseStat parses /proc/<pid>/stat. The command name (field 2) is in
// parentheses and may hold spaces and parentheses itself: the fields after
// it start after the last ')'.
func parseStat(line string) (procStat, error) {
	i := strings.LastIndexByte(line, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("stat line without command: %q", line)
	}
	// f[0] is field 3 (state); field n is f[n-3].
	f := strings.Fields(line[i+1:])
	if len(f) < 22 {
		return procStat{}, fmt.Errorf("stat line with %d fields after the command: %q", len(f), line)
	}
	num := func(field int) uint64 {
		v, err := strconv.ParseUint(f[field-3], 10, 64)
		if err != nil {
			return 0
		}
		return v
	}
	return procStat{
		PPID:     int(num(4)),
		CPUTicks: num(14) + num(15) + num(16) + num(17), // utime stime cutime cstime
		Start:    num(22),
		RSSPages: int64(num(24)),
	}, nil
}

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	return parseStat(string(b))
}

// pids lists the processes in /proc.
func pids() ([]int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var out []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, pid)
		}
	}
	return out, nil
}

// podOfCgroup finds the pod UID and container ID in the lines of
// /proc/<pid>/cgroup of a process a kubelet started (cgroupfs driver:
// .../kubepods/<qos>/pod<uid>/<container id>; systemd driver:
// ...kubepods-<qos>-pod<uid with _>.slice/cri-containerd-<id>.scope).
func podOfCgroup(cgroup string) (podUID, containerID string) {
	for _, line := range strings.Split(cgroup, "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		elems := strings.Split(parts[2], "/")
		for j, e := range elems {
			uid, ok := "", false
			if u, found := strings.CutPrefix(e, "pod"); found {
				uid, ok = u, true
			} else if k := strings.Index(e, "-pod"); k >= 0 && strings.HasSuffix(e, ".slice") {
				uid, ok = strings.ReplaceAll(strings.TrimSuffix(e[k+4:], ".slice"), "_", "-"), true
			}
			if !ok || uid == "" {
				continue
			}
			if j+1 < len(elems) {
				c := elems[j+1]
				c = strings.TrimSuffix(strings.TrimPrefix(c, "cri-containerd-"), ".scope")
				return uid, c
			}
			return uid, ""
		}
	}
	return "", ""
}

// programName is the base name of a process's executable, from argv[0].
func programName(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(b) == 0 {
		return "?"
	}
	arg0, _, _ := strings.Cut(string(b), "\x00")
	return filepath.Base(arg0)
}
