//go:build e2e

package cluster

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestE2EChaos: while both drivers get bursts of claims made, deleted,
// grown and (TopoLS) snapshotted, the cluster's parts are killed with
// SIGKILL at random moments: a controller's provisioner leader, each
// driver's node plugin (TopoLVM's embeds lvmd, TopoLS's btrfsd), lvmd's
// long-running lvm shells, the scheduler extender, kube-controller-manager
// and a whole node (frozen, its kubelet and containerd killed, then
// thawed). After each round, once every part is back: every claim is Bound
// at the size last asked or gone as asked, every snapshot is ready, no LV
// or subvolume is without its LogicalVolume, no LogicalVolume without its
// PV (or snapshot content), no PV Released or Failed, and the data written
// before the kills reads back with the same checksum.
//
// CHAOS_ROUNDS sets the rounds (default 1: make test-e2e; make test-chaos
// runs 10), CHAOS_SEED the seed of the random choices (default the clock;
// printed, so that a failing run can be replayed). Not parallel: it kills
// what the other tests use.
func TestE2EChaos(t *testing.T) {
	rounds := envInt(t, "CHAOS_ROUNDS", 1)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("CHAOS_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("CHAOS_SEED: %v", err)
		}
	}
	t.Logf("chaos: %d rounds, seed %d (CHAOS_SEED=%d replays the same choices)", rounds, seed, seed)
	e := newEnv(t)
	w := newChaosWork(e, seed)

	// The data that must survive: a running pod per driver, on the
	// chart's WaitForFirstConsumer class (through the webhook and the
	// extender), with 16 MiB written and fsynced.
	sums := map[string]string{}
	for _, d := range drivers {
		e.createPVC(claim{name: "data-" + d.name, sc: d.sc, size: "1Gi"})
		e.createPod(e.pod("data-"+d.name, "", pvcVol("data-"+d.name)))
	}
	for _, d := range drivers {
		e.waitPod("data-"+d.name, corev1.PodRunning)
		sums[d.name] = logValue(e.mustExec("data-"+d.name, writeFile), "sum")
	}

	total := chaosCounts{kills: map[string]int{}}
	totalLeaks := 0
	// The second half of a run of several rounds has lvmd in the chart's
	// DaemonSet mode, killed on its own.
	lvmdPod := false
	for r := 1; r <= rounds; r++ {
		if rounds > 1 && r == rounds/2+1 {
			e.lvmdDaemonSet()
			lvmdPod = true
		}
		t0 := time.Now()
		w.mu.Lock()
		w.counts = chaosCounts{kills: map[string]int{}}
		w.mu.Unlock()
		done := make(chan struct{})
		var wg sync.WaitGroup
		errs := make(chan error, len(drivers)+1)
		for _, d := range drivers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-done:
						return
					default:
					}
					if err := w.burst(d, 1); err != nil {
						errs <- fmt.Errorf("%s burst: %w", d.name, err)
						return
					}
					time.Sleep(time.Duration(w.intn(1200)) * time.Millisecond)
				}
			}()
		}
		kills := w.killAll(lvmdPod)
		close(done)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if kills != nil {
			t.Fatalf("round %d: %v", r, kills)
		}
		e.waitClusterBack()
		back := time.Since(t0)
		claims, refused := w.settled(5 * time.Minute)
		for _, d := range drivers {
			out := e.mustExec("data-"+d.name, readFile)
			if got := logValue(out, "sum"); got != sums[d.name] {
				t.Errorf("round %d: %s: the data volume holds checksum %q, written %q", r, d.name, got, sums[d.name])
			}
		}
		l, onNodes := e.settledLeaks(2 * time.Minute)
		w.mu.Lock()
		c := w.counts
		w.mu.Unlock()
		t.Logf("round %d: %v; back %.0f s, settled %.0f s; claims checked %d (growths refused in place %d), data volumes checked %d, volumes on the nodes %d, leaks %d, LogicalVolumes without a PV within the leak grace %d",
			r, c, back.Seconds(), time.Since(t0).Seconds(), claims, refused, len(drivers), onNodes, l.count(), len(l.collecting))
		if len(l.collecting) > 0 {
			t.Logf("round %d: LogicalVolumes of lost CreateVolume answers, for the leak collector: %v", r, l.collecting)
		}
		if l.count() > 0 {
			t.Errorf("round %d: %v", r, l)
		}
		total.created += c.created
		total.deleted += c.deleted
		total.expanded += c.expanded
		total.snapshots += c.snapshots
		for k, n := range c.kills {
			total.kills[k] += n
		}
		totalLeaks += l.count()
		w.dropSnapshots()
	}
	t.Logf("chaos: %d rounds, seed %d: %v; leaks %d", rounds, seed, total, totalLeaks)

	// Everything goes, and nothing is left on the nodes.
	for _, d := range drivers {
		e.deletePod("data-" + d.name)
	}
	pvcs, err := e.cs.CoreV1().PersistentVolumeClaims(e.ns).List(e.ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pvcs.Items {
		if err := w.deleteClaim(p.Name); err != nil {
			t.Fatal(err)
		}
	}
	w.settled(3 * time.Minute)
	e.waitFor("the test's PVs gone", 3*time.Minute, func() (bool, error) {
		pvs, err := e.cs.CoreV1().PersistentVolumes().List(e.ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, pv := range pvs.Items {
			if pv.Spec.ClaimRef != nil && pv.Spec.ClaimRef.Namespace == e.ns {
				return false, nil
			}
		}
		return true, nil
	})
	if l, _ := e.settledLeaks(2 * time.Minute); l.count() > 0 {
		t.Errorf("after deleting everything: %v", l)
	}
}

// killAll kills each kind of part once, in a random order, a random moment
// after the one before, and counts the kills. The victims (which driver's
// leader, which node) are drawn at random too. lvmdPod: lvmd runs in its
// own DaemonSet's pods, not in TopoLVM's node plugin.
func (w *chaosWork) killAll(lvmdPod bool) error {
	e := w.e
	kinds := []string{"controller-leader", "topolvm-node+lvmd", "topols-node+btrfsd", "lvm-shells", "extender",
		"kube-controller-manager", "node"}
	if lvmdPod {
		kinds[1] = "topolvm-node"
		kinds = append(kinds, "lvmd-daemonset")
	}
	w.mu.Lock()
	w.rng.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	w.mu.Unlock()
	nodes := e.NodeNames()
	for _, kind := range kinds {
		time.Sleep(time.Duration(500+w.intn(2500)) * time.Millisecond)
		node := nodes[w.intn(len(nodes))]
		var err error
		what := kind
		switch kind {
		case "controller-leader":
			d := drivers[w.intn(len(drivers))]
			var pod string
			pod, err = e.killLeader(d)
			what = kind + " " + d.name + " (" + pod + ")"
		case "topolvm-node+lvmd", "topolvm-node":
			err = e.killNodePlugin(drivers[0], node)
			what += " on " + node
		case "lvmd-daemonset":
			err = e.killLVMD(node)
			what += " on " + node
		case "topols-node+btrfsd":
			err = e.killNodePlugin(drivers[1], node)
			what += " on " + node
		case "lvm-shells":
			var n int
			n, err = e.killInNode(node, "lvm")
			what = fmt.Sprintf("%s (%d) on %s", kind, n, node)
		case "extender":
			err = e.killExtender()
		case "kube-controller-manager":
			down := time.Duration(1000+w.intn(4000)) * time.Millisecond
			err = e.killControllerManager(down)
			what = fmt.Sprintf("%s (down %.1f s)", kind, down.Seconds())
		case "node":
			down := time.Duration(8000+w.intn(12000)) * time.Millisecond
			err = e.stopNode(node, down)
			what = fmt.Sprintf("%s %s (frozen %.1f s, kubelet and containerd killed)", kind, node, down.Seconds())
		}
		if err != nil {
			return fmt.Errorf("kill %s: %w", what, err)
		}
		e.t.Logf("killed %s", what)
		w.mu.Lock()
		w.counts.kills[kind]++
		w.mu.Unlock()
	}
	return nil
}

// envInt is a positive integer from the environment, or def.
func envInt(t *testing.T, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}
