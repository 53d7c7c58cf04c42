//go:build e2e

package cluster

import (
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// TestE2EFailover: on each driver (two controller replicas, the chart's
// default, with leader election), a burst of claims on an Immediate class
// is under way when the replica holding csi-provisioner's lease is taken
// away; more claims come right after. Twice: first every container of the
// leader is killed with SIGKILL (the kubelet restarts them, and the same
// replica, whose identity is its pod name, usually wins the lease back);
// then the new leader hangs (every process of it stopped with SIGSTOP,
// killed only at the end), so the other replica must take the lease over
// once it expires. Every claim ends Bound, each with exactly one PV, one
// LogicalVolume and one LV or subvolume on a node, and nothing is left
// without its owner. Printed per phase: the gap from the kill (or hang) to
// the first volume provisioned for a claim made after it, beside the
// lease's duration, and the leader after it. Not parallel with the other
// tests: it takes away a controller they use.
func TestE2EFailover(t *testing.T) {
	e := newEnv(t)
	for _, d := range drivers {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			e.with(t).failover(d)
		})
	}
}

func (e *env) failover(d driverCase) {
	t := e.t
	sc := e.storageClass(d.name+"-failover", d.driver, nil, storagev1.VolumeBindingImmediate)
	// When each of this driver's claims got its PV, as the watch saw it.
	w, err := e.cs.CoreV1().PersistentVolumes().Watch(e.ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var mu sync.Mutex
	provisioned := map[string]time.Time{} // claim name -> PV seen
	go func() {
		for ev := range w.ResultChan() {
			pv, ok := ev.Object.(*corev1.PersistentVolume)
			if ev.Type != watch.Added || !ok || pv.Spec.ClaimRef == nil || pv.Spec.ClaimRef.Namespace != e.ns {
				continue
			}
			mu.Lock()
			if _, seen := provisioned[pv.Spec.ClaimRef.Name]; !seen {
				provisioned[pv.Spec.ClaimRef.Name] = time.Now()
			}
			mu.Unlock()
		}
	}()

	pvs := map[string]*corev1.PersistentVolume{}
	seq := 0
	mk := func(n int) []string {
		var names []string
		for i := 0; i < n; i++ {
			seq++
			name := fmt.Sprintf("%s-%d", d.name, seq)
			e.createPVC(claim{name: name, sc: sc, size: "256Mi"})
			names = append(names, name)
		}
		return names
	}
	// phase: a burst, the leader taken away by stop once the burst's first
	// claim has its volume (the others being provisioned), and another
	// burst right after.
	phase := func(what string, stop func(leader *corev1.Pod)) *corev1.Pod {
		leader, err := e.provisionerLeader(d)
		if err != nil {
			t.Fatal(err)
		}
		before := mk(8)
		e.bound(before[0])
		stopped := time.Now()
		stop(leader)
		after := mk(8)
		for _, name := range append(before, after...) {
			pvs[name] = e.bound(name)
		}
		var gap time.Duration
		mu.Lock()
		for _, name := range after {
			if at, ok := provisioned[name]; ok && (gap == 0 || at.Sub(stopped) < gap) {
				gap = at.Sub(stopped)
			}
		}
		mu.Unlock()
		lease, err := e.cs.CoordinationV1().Leases(controllerNamespace(d)).Get(e.ctx, provisionerLease(d), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var secs int32
		if lease.Spec.LeaseDurationSeconds != nil {
			secs = *lease.Spec.LeaseDurationSeconds
		}
		holder, took := "", "not taken over"
		if lease.Spec.HolderIdentity != nil {
			holder = *lease.Spec.HolderIdentity
		}
		switch a := lease.Spec.AcquireTime; {
		case holder == leader.Name:
			// The same identity back: the lease keeps its first acquireTime.
			took = "held again by the same replica"
		case a != nil && a.After(stopped):
			took = fmt.Sprintf("taken over %.1f s after", a.Sub(stopped).Seconds())
		}
		t.Logf("failover gap, leader %s: %.1f s (%s -> first volume provisioned for a claim made after it); lease duration %d s, %s; leader now %s",
			what, gap.Seconds(), leader.Name, secs, took, holder)
		if what == "hung" && holder == leader.Name {
			t.Errorf("the hung leader %s still holds the lease", leader.Name)
		}
		return leader
	}

	phase("killed", func(leader *corev1.Pod) {
		n, err := e.killContainers(leader, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("killed %d containers of the leader %s", n, leader.Name)
	})
	var hung []int
	// Killed at the latest when the test ends, whatever happens.
	defer func() {
		for _, pid := range hung {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}()
	phase("hung", func(leader *corev1.Pod) {
		if hung, err = e.podProcs(leader); err != nil {
			t.Fatal(err)
		}
		for _, pid := range hung {
			_ = syscall.Kill(pid, syscall.SIGSTOP)
		}
		t.Logf("stopped the %d processes of the leader %s", len(hung), leader.Name)
	})
	// The hung replica dies at last; the kubelet restarts it.
	for _, pid := range hung {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	hung = nil
	e.waitSuiteReady(nil)

	// One PV, one LogicalVolume and one volume on a node per claim: a
	// CreateVolume answered twice with different volumes would show as
	// two of one of them.
	e.oneVolumeEach(d, pvs)
	for name, pv := range pvs {
		e.deletePVC(name, pvVolume(pv))
	}
}

// oneVolumeEach checks that each claim (by its UID, which names its
// volume) has exactly one PV, one LogicalVolume and one LV or subvolume,
// and that nothing in the cluster is left without its owner.
func (e *env) oneVolumeEach(d driverCase, pvs map[string]*corev1.PersistentVolume) {
	t := e.t
	if l, _ := e.settledLeaks(2 * time.Minute); l.count() > 0 {
		t.Errorf("%v", l)
	}
	all, err := e.cs.CoreV1().PersistentVolumes().List(e.ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := e.dyn.Resource(logicalVolumes).List(e.ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	onNodes, err := e.nodeVolumes()
	if err != nil {
		t.Fatal(err)
	}
	for name, pv := range pvs {
		uid := string(pv.Spec.ClaimRef.UID)
		var nPV, nLV, nNode int
		for _, p := range all.Items {
			if p.Spec.ClaimRef != nil && string(p.Spec.ClaimRef.UID) == uid {
				nPV++
			}
		}
		for _, o := range objs.Items {
			if strings.Contains(o.GetName(), uid) {
				nLV++
			}
		}
		for _, v := range onNodes {
			if strings.Contains(v.name, uid) {
				nNode++
			}
		}
		if nPV != 1 || nLV != 1 || nNode != 1 {
			t.Errorf("%s claim %s (uid %s): %d PVs, %d LogicalVolumes, %d volumes on the nodes; want one each", d.name, name, uid, nPV, nLV, nNode)
		}
	}
}
