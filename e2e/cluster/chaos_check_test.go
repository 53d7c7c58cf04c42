//go:build e2e

package cluster

import (
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// What the chaos and failover tests hold the whole cluster to once every
// part is back: the volumes on the nodes, the LogicalVolume objects and the
// PersistentVolumes agree, whatever was killed in between.

var snapshotContents = schema.GroupVersionResource{Group: "snapshot.storage.k8s.io", Version: "v1", Resource: "volumesnapshotcontents"}

// nodeVolume is an LV or a btrfs subvolume on a node.
type nodeVolume struct{ node, where, name string }

func (v nodeVolume) String() string { return v.node + ":" + v.where + "/" + v.name }

// nodeVolumes lists every LV of the nodes' volume groups and every
// subvolume of their btrfs pools (both device classes), asking LVM and
// btrfs in each node.
func (e *env) nodeVolumes() ([]nodeVolume, error) {
	var out []nodeVolume
	for _, node := range e.NodeNames() {
		s, err := e.InNode(e.ctx, node, "lvm", "lvs", "--reportformat", "json", "-o", "vg_name,lv_name", vgName, smallVG)
		if err != nil {
			return nil, fmt.Errorf("lvs on %s: %w", node, err)
		}
		var rep struct {
			Report []struct {
				LV []map[string]string `json:"lv"`
			} `json:"report"`
		}
		if err := json.Unmarshal([]byte(s), &rep); err != nil {
			return nil, fmt.Errorf("lvs on %s: %w: %s", node, err, s)
		}
		for _, r := range rep.Report {
			for _, lv := range r.LV {
				out = append(out, nodeVolume{node, lv["vg_name"], lv["lv_name"]})
			}
		}
		for _, pool := range []string{poolPath, smallPoolPath} {
			s, err := e.InNode(e.ctx, node, "btrfs", "subvolume", "list", pool)
			if err != nil {
				return nil, fmt.Errorf("btrfs subvolume list %s on %s: %w", pool, node, err)
			}
			for _, line := range strings.Split(s, "\n") {
				// ID 257 gen 9 top level 5 path pvc-...
				if _, p, ok := strings.Cut(line, " path "); ok {
					out = append(out, nodeVolume{node, pool, path.Base(strings.TrimSpace(p))})
				}
			}
		}
	}
	return out, nil
}

// leaks are what the cluster holds that nothing accounts for.
type leaks struct {
	// orphans: LVs and subvolumes without a LogicalVolume.
	orphans []string
	// unclaimed: LogicalVolumes of volumes without a PV past their
	// driver's leak grace, and of snapshots without a VolumeSnapshotContent.
	unclaimed []string
	// collecting: LogicalVolumes without a PV younger than that: a
	// CreateVolume whose answer was lost (its caller killed, its claim
	// deleted meanwhile) leaves one, and the controller's leak collector
	// deletes it once it is older than the grace (--leak-grace).
	collecting []string
	// released: PVs of the drivers Released or Failed.
	released []string
}

func (l leaks) count() int { return len(l.orphans) + len(l.unclaimed) + len(l.released) }

func (l leaks) String() string {
	return fmt.Sprintf("LVs/subvolumes without a LogicalVolume %v; LogicalVolumes without a PV or snapshot content %v; PVs Released or Failed %v",
		l.orphans, l.unclaimed, l.released)
}

// findLeaks looks once at the nodes, the LogicalVolumes, the PVs and the
// VolumeSnapshotContents of both drivers.
func (e *env) findLeaks() (leaks, error) {
	var l leaks
	grace := map[string]time.Duration{}
	for _, d := range drivers {
		g, err := e.leakGrace(d)
		if err != nil {
			return l, err
		}
		grace[d.driver] = g
	}
	// LogicalVolumes first, then the nodes: a volume made in between has
	// its object already (objects come before volumes, and go after them).
	lvs, err := e.dyn.Resource(logicalVolumes).List(e.ctx, metav1.ListOptions{})
	if err != nil {
		return l, err
	}
	pvs, err := e.cs.CoreV1().PersistentVolumes().List(e.ctx, metav1.ListOptions{})
	if err != nil {
		return l, err
	}
	contents, err := e.dyn.Resource(snapshotContents).List(e.ctx, metav1.ListOptions{})
	if err != nil {
		return l, err
	}
	onNodes, err := e.nodeVolumes()
	if err != nil {
		return l, err
	}
	known := map[string]bool{} // node/name
	handles := map[string]bool{}
	for _, pv := range pvs.Items {
		if pv.Spec.CSI == nil {
			continue
		}
		handles[pv.Spec.CSI.VolumeHandle] = true
		if p := pv.Status.Phase; p == corev1.VolumeReleased || p == corev1.VolumeFailed {
			l.released = append(l.released, fmt.Sprintf("%s %s (%s)", pv.Name, p, pv.Status.Message))
		}
	}
	for _, c := range contents.Items {
		if h, _, _ := unstructured.NestedString(c.Object, "status", "snapshotHandle"); h != "" {
			handles[h] = true
		}
	}
	for _, lv := range lvs.Items {
		node, _, _ := unstructured.NestedString(lv.Object, "spec", "nodeName")
		name, _, _ := unstructured.NestedString(lv.Object, "spec", "name")
		known[node+"/"+name] = true
		if handles[lv.GetName()] {
			continue
		}
		driver, _, _ := unstructured.NestedString(lv.Object, "spec", "driverName")
		access, _, _ := unstructured.NestedString(lv.Object, "spec", "accessType")
		age := time.Since(lv.GetCreationTimestamp().Time)
		what := fmt.Sprintf("%s (on %s, made %s ago)", lv.GetName(), node, age.Round(time.Second))
		// A minute more than the grace: the collector's delete, the node's
		// removal and the finalizer take their time.
		if access != "ro" && age < grace[driver]+time.Minute {
			l.collecting = append(l.collecting, what)
		} else {
			l.unclaimed = append(l.unclaimed, what)
		}
	}
	for _, v := range onNodes {
		if !known[v.node+"/"+v.name] {
			l.orphans = append(l.orphans, v.String())
		}
	}
	sort.Strings(l.orphans)
	return l, nil
}

// leakGrace is the driver's controller's --leak-grace (the chart's
// controller.leakGrace).
func (e *env) leakGrace(d driverCase) (time.Duration, error) {
	dep, err := e.cs.AppsV1().Deployments(controllerNamespace(d)).Get(e.ctx, d.name+"-controller", metav1.GetOptions{})
	if err != nil {
		return 0, err
	}
	for _, c := range dep.Spec.Template.Spec.Containers {
		for _, a := range c.Args {
			if v, ok := strings.CutPrefix(a, "--leak-grace="); ok {
				return time.ParseDuration(v)
			}
		}
	}
	return 0, fmt.Errorf("%s-controller has no --leak-grace", d.name)
}

// settledLeaks waits up to grace for the cluster to account for every
// volume (a deletion or a retried provisioning under way settles in that
// time) and returns what is still unaccounted for then, and how many
// volumes the nodes hold.
func (e *env) settledLeaks(grace time.Duration) (leaks, int) {
	e.t.Helper()
	var l leaks
	var err error
	for deadline := time.Now().Add(grace); ; time.Sleep(2 * time.Second) {
		if l, err = e.findLeaks(); err != nil {
			e.t.Fatal(err)
		}
		if l.count() == 0 || time.Now().After(deadline) {
			break
		}
	}
	vols, err := e.nodeVolumes()
	if err != nil {
		e.t.Fatal(err)
	}
	return l, len(vols)
}

// waitClusterBack waits until the nodes are Ready again and the suite's
// pods all run and are Ready (after kills, the restarted ones).
func (e *env) waitClusterBack() {
	e.t.Helper()
	e.waitFor("every node Ready", 3*time.Minute, func() (bool, error) {
		nodes, err := e.cs.CoreV1().Nodes().List(e.ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		for _, n := range nodes.Items {
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status != corev1.ConditionTrue {
					return false, nil
				}
			}
		}
		return len(nodes.Items) == len(e.NodeNames()), nil
	})
	e.waitSuiteReady(nil)
}
