//go:build e2e

package cluster

import (
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// The suite's namespaces: every pod there is one of the suite's components.
var suiteNamespaces = []string{"topolvm-system", "topols-system", schedulerNamespace}

// TestE2ERestart: with a pod using a written volume of each driver,
// every component of the suite is restarted (both controllers, both node
// plugins with the lvmd and btrfsd they embed, the scheduler extender):
// the volumes stay mounted with their data, the pods can still write, and
// new PVCs are provisioned. Not parallel: the other tests run after it.
func TestE2ERestart(t *testing.T) {
	e := newEnv(t)
	sums := map[string]string{}
	for _, d := range drivers {
		e.createPVC(claim{name: d.name, sc: d.sc, size: "1Gi"})
		e.createPod(e.pod(d.name, "", pvcVol(d.name)))
	}
	for _, d := range drivers {
		e.waitPod(d.name, corev1.PodRunning)
		sums[d.name] = logValue(e.mustExec(d.name, writeFile), "sum")
	}

	old := map[types.UID]string{}
	for _, ns := range suiteNamespaces {
		pods, err := e.cs.CoreV1().Pods(ns).List(e.ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pods.Items {
			old[p.UID] = ns + "/" + p.Name
			if err := e.cs.CoreV1().Pods(ns).Delete(e.ctx, p.Name, metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("deleted %d pods of the suite: %v", len(old), mapValues(old))
	t0 := time.Now()
	e.waitSuiteReady(old)
	t.Logf("all replaced and Ready in %.1f s", time.Since(t0).Seconds())

	for _, d := range drivers {
		out := e.mustExec(d.name, readFile+`
echo "mount=$(grep ' /data0 ' /proc/mounts)"
echo more > /data0/after-restart && echo "write=ok"`)
		if got := logValue(out, "sum"); got != sums[d.name] {
			t.Errorf("%s: after the restart the volume holds checksum %q, written %q", d.name, got, sums[d.name])
		}
		if logValue(out, "mount") == "" || logValue(out, "write") != "ok" {
			t.Errorf("%s: after the restart: %s", d.name, out)
		}
		// And a new volume is provisioned.
		e.createPVC(claim{name: d.name + "-new", sc: d.sc, size: "1Gi"})
		log, _ := e.run(d.name+"-new", writeFile, pvcVol(d.name+"-new"))
		if logValue(log, "sum") == "" {
			t.Errorf("%s: a new PVC after the restart: %s", d.name, log)
		}
	}
	for _, d := range drivers {
		for _, n := range []string{d.name, d.name + "-new"} {
			e.deletePod(n)
			e.deletePVC(n, pvVolume(e.bound(n)))
		}
	}
}

func mapValues(m map[types.UID]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// waitSuiteReady waits until every Deployment and DaemonSet of the suite
// has all its pods Ready and none of the old pods is left.
func (e *env) waitSuiteReady(old map[types.UID]string) {
	e.t.Helper()
	e.waitFor("the suite's pods replaced and Ready", 5*time.Minute, func() (bool, error) {
		for _, ns := range suiteNamespaces {
			pods, err := e.cs.CoreV1().Pods(ns).List(e.ctx, metav1.ListOptions{})
			if err != nil {
				return false, err
			}
			for _, p := range pods.Items {
				if _, ok := old[p.UID]; ok || !podReady(&p) {
					return false, nil
				}
			}
			deps, err := e.cs.AppsV1().Deployments(ns).List(e.ctx, metav1.ListOptions{})
			if err != nil {
				return false, err
			}
			for _, d := range deps.Items {
				if d.Spec.Replicas != nil && d.Status.ReadyReplicas != *d.Spec.Replicas {
					return false, nil
				}
			}
			dss, err := e.cs.AppsV1().DaemonSets(ns).List(e.ctx, metav1.ListOptions{})
			if err != nil {
				return false, err
			}
			for _, d := range dss.Items {
				if d.Status.DesiredNumberScheduled == 0 || d.Status.NumberReady != d.Status.DesiredNumberScheduled {
					return false, nil
				}
			}
		}
		return true, nil
	})
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// TestE2ENodeDeletion: deleting a Node object deletes the LogicalVolumes
// on it and the PVCs bound to them (the controllers' node finalizers);
// then the node registers again (its kubelet restarted) and gets both
// drivers back, so that the tests after this one have three nodes. Not
// parallel: the other tests run after it.
func TestE2ENodeDeletion(t *testing.T) {
	e := newEnv(t)
	const node = "node3"
	var vols []volume
	for _, d := range drivers {
		e.createPVC(claim{name: d.name, sc: d.sc, size: "1Gi"})
		p := e.pod(d.name, writeFile, pvcVol(d.name))
		p.Spec.NodeSelector = map[string]string{"kubernetes.io/hostname": node}
		e.runPod(p)
		e.deletePod(d.name)
		v := pvVolume(e.bound(d.name))
		if v.node != node {
			t.Fatalf("%s: volume on %s, want %s", d.name, v.node, node)
		}
		vols = append(vols, v)
	}
	if err := e.cs.CoreV1().Nodes().Delete(e.ctx, node, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitFor("the PVCs and LogicalVolumes of "+node+" deleted, and the Node gone", 2*time.Minute, func() (bool, error) {
		for i, d := range drivers {
			if _, err := e.cs.CoreV1().PersistentVolumeClaims(e.ns).Get(e.ctx, d.name, metav1.GetOptions{}); err == nil {
				return false, nil
			}
			if e.logicalVolume(vols[i].handle) != nil {
				return false, nil
			}
		}
		_, err := e.cs.CoreV1().Nodes().Get(e.ctx, node, metav1.GetOptions{})
		return err != nil, nil
	})
	t.Logf("%s deleted: its PVCs and LogicalVolumes are gone", node)

	// The node's init restarts a kubelet that exits; the new one registers
	// the Node again.
	if out, err := e.InNode(e.ctx, node, "sh", "-c",
		`for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = kubelet ] && kill ${p#/proc/}; done; true`); err != nil {
		t.Fatalf("restarting the kubelet of %s: %v: %s", node, err, out)
	}
	e.waitFor(node+" registered again, Ready, with both drivers", 3*time.Minute, func() (bool, error) {
		n, err := e.cs.CoreV1().Nodes().Get(e.ctx, node, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		ready := false
		for _, c := range n.Status.Conditions {
			ready = ready || (c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue)
		}
		cn, err := e.cs.StorageV1().CSINodes().Get(e.ctx, node, metav1.GetOptions{})
		if !ready || err != nil {
			return false, nil
		}
		have := 0
		for _, d := range cn.Spec.Drivers {
			for _, dc := range drivers {
				if d.Name == dc.driver {
					have++
				}
			}
		}
		return have == len(drivers), nil
	})
	// The node plugins notice the Node made anew without their capacity
	// annotations and publish them again, though the capacity did not
	// change; the controllers' finalizers follow the annotations.
	e.waitFor(node+"'s capacity annotations and the controllers' finalizers", 3*time.Minute, func() (bool, error) {
		n, err := e.cs.CoreV1().Nodes().Get(e.ctx, node, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		for _, dc := range drivers {
			_, capacity := n.Annotations["capacity."+dc.driver+"/00default"]
			_, revision := n.Annotations[dc.driver+"/capacity-revision"]
			if !capacity || !revision || !slices.Contains(n.Finalizers, dc.driver+"/node") {
				return false, nil
			}
		}
		return true, nil
	})
	e.waitSuiteReady(nil)
	t.Logf("%s registered again with both drivers", node)
}
