package bench

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Usage is what one component used during a measurement: CPU seconds
// (all its processes, their waited-for children included) and the peak of
// its processes' summed resident memory, sampled.
type Usage struct {
	Component  string
	CPUSeconds float64
	PeakRSS    int64
}

// Meter samples the processes of a cluster every interval: the control
// plane's processes on the host by the names the cluster gave them, and
// every descendant of a node's init, grouped by component: a container
// by <pod namespace>/<container name> (the benchmark's own pods as "bench
// pods"), pods' sandboxes as "pause", other node processes by program
// name (kubelet, containerd, ...).
type Meter struct {
	cs       kubernetes.Interface
	host     map[int]string // control-plane PID -> name
	inits    map[int]bool   // node init PIDs
	pageSize int64

	mu         sync.Mutex
	containers map[string]string // container ID -> component
	sandboxes  map[string]string // pod UID -> namespace
	podsListed time.Time
	known      map[procKey]string // process -> component (nil entry: not the cluster's)
	first      map[procKey]uint64 // CPU ticks when first seen
	last       map[procKey]uint64 // CPU ticks when last seen
	comp       map[procKey]string
	peak       map[string]int64

	stop chan struct{}
	done chan struct{}
}

type procKey struct {
	pid   int
	start uint64
}

// NewMeter starts sampling. host maps the PIDs of the control-plane
// processes to their names; inits lists the nodes' init PIDs.
func NewMeter(cs kubernetes.Interface, host map[int]string, inits []int, interval time.Duration) *Meter {
	m := &Meter{cs: cs, host: maps.Clone(host), inits: map[int]bool{}, pageSize: int64(os.Getpagesize()),
		containers: map[string]string{}, sandboxes: map[string]string{}, known: map[procKey]string{},
		first: map[procKey]uint64{}, last: map[procKey]uint64{}, comp: map[procKey]string{}, peak: map[string]int64{},
		stop: make(chan struct{}), done: make(chan struct{})}
	for _, p := range inits {
		m.inits[p] = true
	}
	_ = m.listPods()
	m.sample(true)
	go func() {
		defer close(m.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-t.C:
				m.sample(false)
			}
		}
	}()
	return m
}

// Stop takes a last sample and returns the usage per component, sorted by
// CPU time, largest first. Processes that started during the measurement
// count whole; those that ended count up to their last sample.
func (m *Meter) Stop() []Usage {
	close(m.stop)
	<-m.done
	m.sample(false)
	m.mu.Lock()
	defer m.mu.Unlock()
	cpu := map[string]uint64{}
	for k, c := range m.comp {
		cpu[c] += m.last[k] - m.first[k]
	}
	var out []Usage
	for c, peak := range m.peak {
		out = append(out, Usage{Component: c, CPUSeconds: float64(cpu[c]) / clockTicks, PeakRSS: peak})
	}
	slices.SortFunc(out, func(a, b Usage) int {
		if a.CPUSeconds != b.CPUSeconds {
			if a.CPUSeconds > b.CPUSeconds {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Component, b.Component)
	})
	return out
}

// sample reads every process once. On the first sample, CPU time so far is
// the baseline; later processes start from zero.
func (m *Meter) sample(baseline bool) {
	all, err := pids()
	if err != nil {
		return
	}
	stats := make(map[int]procStat, len(all))
	for _, pid := range all {
		if st, err := readStat(pid); err == nil {
			stats[pid] = st
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	rss := map[string]int64{}
	for pid, st := range stats {
		k := procKey{pid, st.Start}
		c, seen := m.known[k]
		if !seen {
			c = m.classify(pid, stats)
			// A container not yet in the pod list is asked again later.
			if !strings.HasPrefix(c, "?") {
				m.known[k] = c
			}
		}
		if c == "" || strings.HasPrefix(c, "?") {
			continue
		}
		if _, ok := m.first[k]; !ok {
			m.first[k] = 0
			if baseline {
				m.first[k] = st.CPUTicks
			}
		}
		m.last[k] = st.CPUTicks
		m.comp[k] = c
		rss[c] += st.RSSPages * m.pageSize
	}
	for c, v := range rss {
		m.peak[c] = max(m.peak[c], v)
	}
}

// classify names the component of a process, "" when it is not the
// cluster's, or "?..." when it is a container the pod list does not know yet.
func (m *Meter) classify(pid int, stats map[int]procStat) string {
	if name, ok := m.host[pid]; ok {
		return name
	}
	inNode := false
	for p, hops := pid, 0; p > 1 && hops < 64; hops++ {
		if m.inits[p] {
			inNode = true
			break
		}
		st, ok := stats[p]
		if !ok {
			break
		}
		p = st.PPID
	}
	if !inNode {
		return ""
	}
	if m.inits[pid] {
		// PID 1 of the node: orphans it reaps count for it.
		return "node init (reaped orphans)"
	}
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	uid, id := podOfCgroup(string(b))
	switch {
	case uid == "":
		return programName(pid)
	case programName(pid) == "pause":
		return "pause"
	}
	if c, ok := m.containers[id]; ok {
		return c
	}
	_ = m.listPods()
	if c, ok := m.containers[id]; ok {
		return c
	}
	if m.sandboxes[uid] == Namespace {
		return "bench pods"
	}
	return "?" + id
}

// listPods refreshes the container map, at most once a second.
func (m *Meter) listPods() error {
	if time.Since(m.podsListed) < time.Second {
		return nil
	}
	m.podsListed = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pods, err := m.cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, p := range pods.Items {
		m.sandboxes[string(p.UID)] = p.Namespace
		for _, s := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
			_, id, ok := strings.Cut(s.ContainerID, "://")
			if !ok {
				continue
			}
			if p.Namespace == Namespace {
				m.containers[id] = "bench pods"
			} else {
				m.containers[id] = p.Namespace + "/" + s.Name
			}
		}
	}
	return nil
}
