//go:build e2e

package cluster

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// smallClassMu: the tests on a driver's small device class
// (devclasses.go) take turns, so that each sees exact capacity figures.
var smallClassMu = map[string]*sync.Mutex{"topolvm.io": {}, "topols.io": {}}

// smallSC is a driver's StorageClass of the small device class.
func smallSC(d driverCase) string { return d.name + "-" + smallClass }

// TestE2EDeviceClasses: a PVC of the second device class lands in that
// class's volume group or btrfs pool (LogicalVolume spec.deviceClass and
// the real LV or subvolume), next to a default-class PVC used by the same
// pod; the pod writes to both.
func TestE2EDeviceClasses(t *testing.T) {
	eachDriver(t, func(e *env, d driverCase) {
		t := e.t
		smallClassMu[d.driver].Lock()
		defer smallClassMu[d.driver].Unlock()
		pvcs := map[string]string{"default": d.name + "-default", "small": d.name + "-small"}
		e.createPVC(claim{name: pvcs["default"], sc: d.sc, size: "1Gi"})
		e.createPVC(claim{name: pvcs["small"], sc: smallSC(d), size: "1Gi"})
		log, node := e.run(d.name+"-writer", strings.ReplaceAll(writeFile, "data0", "data1")+writeFile, pvcVol(pvcs["default"]), pvcVol(pvcs["small"]))
		if n := strings.Count(log, "sum="); n != 2 {
			t.Errorf("the pod wrote %d of 2 volumes: %s", n, log)
		}
		where := map[string]string{"default": vgName + "/", "small": smallVG + "/"}
		if d.driver == "topols.io" {
			where = map[string]string{"default": poolPath + "/", "small": smallPoolPath + "/"}
		}
		for _, pvc := range []string{"default", "small"} {
			v := pvVolume(e.bound(pvcs[pvc]))
			s, ok := e.onNode(v)
			if !ok || !strings.Contains(s, " "+where[pvc]) || v.node != node {
				t.Errorf("PVC %s: on %s: %s; want in %s on the pod's node %s", pvc, v.node, s, where[pvc], node)
			}
			class, _, _ := unstructured.NestedString(e.logicalVolume(v.handle).Object, "spec", "deviceClass")
			if want := map[string]string{"default": "", "small": smallClass}[pvc]; class != want {
				t.Errorf("PVC %s: LogicalVolume spec.deviceClass %q, want %q", pvc, class, want)
			}
			t.Logf("PVC %s: %s", pvc, s)
		}
		e.deletePod(d.name + "-writer")
		for _, pvc := range pvcs {
			e.deletePVC(pvc, pvVolume(e.bound(pvc)))
		}
	})
}

// TestE2ECapacity, on each driver's small device class:
//   - a pod whose PVC fits on no node stays Pending, with a
//     FailedScheduling event saying why;
//   - the node's CSIStorageCapacity goes down by a PVC's size once it is
//     provisioned, and back up when it is deleted;
//   - a node that is full is avoided, even by a pod that prefers it.
func TestE2ECapacity(t *testing.T) {
	eachDriver(t, func(e *env, d driverCase) {
		t := e.t
		smallClassMu[d.driver].Lock()
		defer smallClassMu[d.driver].Unlock()
		sc := smallSC(d)
		n := func(s string) string { return d.name + "-" + s }
		const full = "node1"
		// Settled: the CSIStorageCapacity (csi-provisioner asks
		// GetCapacity every 10 s) and the Node's annotation both show
		// what the node's LVM or btrfs really has free (the test before
		// this one may have just removed a volume).
		c0 := e.storageCapacity(d, sc, full, func(c int64) bool {
			return c == e.nodeCapacity(d.driver, full, smallClass) && c == e.smallClassFree(d, full)
		})
		t.Logf("%s on %s: CSIStorageCapacity %s", sc, full, quantity(c0))

		// Fits nowhere.
		e.createPVC(claim{name: n("huge"), sc: sc, size: "8Gi"})
		e.createPod(e.pod(n("huge"), "true", pvcVol(n("huge"))))
		var why string
		e.waitFor("a FailedScheduling event of pod huge", 2*time.Minute, func() (bool, error) {
			evs, err := e.cs.CoreV1().Events(e.ns).List(e.ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + n("huge") + ",reason=FailedScheduling"})
			if err != nil || len(evs.Items) == 0 {
				return false, err
			}
			why = evs.Items[0].Message
			return true, nil
		})
		if p, err := e.cs.CoreV1().Pods(e.ns).Get(e.ctx, n("huge"), metav1.GetOptions{}); err != nil {
			t.Fatal(err)
		} else if p.Status.Phase != corev1.PodPending || p.Spec.NodeName != "" {
			t.Errorf("pod huge: %s on %q, want Pending on no node", p.Status.Phase, p.Spec.NodeName)
		}
		if l := strings.ToLower(why); !strings.Contains(l, "storage") && !strings.Contains(l, "capacity") {
			t.Errorf("FailedScheduling of a pod whose 8Gi PVC fits nowhere: %q, want it to name storage or capacity", why)
		}
		t.Logf("pod huge stays Pending: %s", why)
		e.deletePod(n("huge"))
		if err := e.cs.CoreV1().PersistentVolumeClaims(e.ns).Delete(e.ctx, n("huge"), metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}

		// Fill node1 up to half a GiB (a PVC bound at once, there).
		fill := c0 - 512<<20
		e.createPVC(claim{name: n("filler"), sc: e.pinnedSmallClass(d, full), size: quantity(fill)})
		filler := pvVolume(e.bound(n("filler")))
		if filler.node != full {
			t.Fatalf("filler on %s, want %s", filler.node, full)
		}
		c1 := e.storageCapacity(d, sc, full, func(c int64) bool { return c <= c0-fill })
		t.Logf("after a %s PVC: CSIStorageCapacity %s", quantity(fill), quantity(c1))

		// A pod that prefers the full node goes elsewhere.
		e.createPVC(claim{name: n("next"), sc: sc, size: "1Gi"})
		p := e.pod(n("next"), "true", pvcVol(n("next")))
		p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{Weight: 100,
				Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{
					Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{full}}}}}}}}
		_, node := e.runPod(p)
		if node == full {
			t.Errorf("a 1Gi PVC went to %s, which had %s left", full, quantity(c1))
		}
		t.Logf("a pod preferring the full %s ran on %s", full, node)

		e.deletePod(n("next"))
		e.deletePVC(n("next"), pvVolume(e.bound(n("next"))))
		e.deletePVC(n("filler"), filler)
		c2 := e.storageCapacity(d, sc, full, func(c int64) bool { return c == c0 })
		t.Logf("after deleting it: CSIStorageCapacity %s", quantity(c2))
	})
}

func quantity(b int64) string { return resource.NewQuantity(b, resource.BinarySI).String() }

// storageCapacity waits until the CSIStorageCapacity of a StorageClass on
// a node exists and ok accepts its capacity, and returns the capacity.
func (e *env) storageCapacity(d driverCase, sc, node string, ok func(int64) bool) int64 {
	e.t.Helper()
	ns := map[string]string{"topolvm.io": "topolvm-system", "topols.io": "topols-system"}[d.driver]
	var got int64 = -1
	e.waitFor("CSIStorageCapacity of "+sc+" on "+node, 2*time.Minute, func() (bool, error) {
		list, err := e.cs.StorageV1().CSIStorageCapacities(ns).List(e.ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range list.Items {
			if c.StorageClassName != sc || c.NodeTopology == nil || c.Capacity == nil {
				continue
			}
			for _, v := range c.NodeTopology.MatchLabels {
				if v == node {
					got = c.Capacity.Value()
					return ok(got), nil
				}
			}
		}
		return false, nil
	})
	return got
}

// nodeCapacity is the free bytes of a device class the node plugin
// published on its Node (annotation capacity.<driver>/<class>), -1 if none.
func (e *env) nodeCapacity(driver, node, class string) int64 {
	e.t.Helper()
	n, err := e.cs.CoreV1().Nodes().Get(e.ctx, node, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	v, err := strconv.ParseInt(n.Annotations["capacity."+driver+"/"+class], 10, 64)
	if err != nil {
		return -1
	}
	return v
}

// smallClassFree is what the node's small device class has free, asked
// from LVM (VG free less the class's spare) or, for TopoLS, the pool's
// budget once it holds no subvolume (-1 while it does).
func (e *env) smallClassFree(d driverCase, node string) int64 {
	e.t.Helper()
	if d.driver == "topols.io" {
		out, err := e.InNode(e.ctx, node, "btrfs", "subvolume", "list", "-o", smallPoolPath)
		if err != nil {
			e.t.Fatal(err)
		}
		if strings.TrimSpace(out) != "" {
			return -1
		}
		budget := resource.MustParse(smallPoolBudget)
		return budget.Value()
	}
	out, err := e.InNode(e.ctx, node, "lvm", "vgs", "--noheadings", "--units", "b", "--nosuffix", "-o", "vg_free", smallVG)
	if err != nil {
		e.t.Fatal(err)
	}
	free, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
	if err != nil {
		e.t.Fatalf("vgs %s on %s: %q: %v", smallVG, node, out, err)
	}
	spare := resource.MustParse(smallVGSpare)
	return free - spare.Value()
}
