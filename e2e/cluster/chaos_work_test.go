//go:build e2e

package cluster

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// chaosWork is the work the chaos test keeps the drivers busy with while
// parts of the cluster are killed: bursts of claims made, deleted, grown and
// (TopoLS) snapshotted, on Immediate classes so that no pod is needed and
// every burst reaches CreateVolume at once. It remembers what it asked for,
// so that the end state can be held to it.
type chaosWork struct {
	e         *env
	mu        sync.Mutex
	rng       *rand.Rand
	class     map[string]string // driver short name -> Immediate StorageClass
	snapClass string
	seq       int
	live      map[string]chaosClaim // claims that must end Bound
	gone      []string              // claims that must end gone
	snaps     []string              // VolumeSnapshots that must end readyToUse
	counts    chaosCounts
}

type chaosClaim struct {
	d    driverCase
	size resource.Quantity // the size asked last
}

// chaosCounts is what a round did.
type chaosCounts struct {
	created, deleted, expanded, snapshots int
	kills                                 map[string]int
}

func (c chaosCounts) String() string {
	return fmt.Sprintf("PVCs created %d, deleted %d, expanded %d; snapshots %d; kills %v",
		c.created, c.deleted, c.expanded, c.snapshots, c.kills)
}

const chaosSize = "256Mi"

func newChaosWork(e *env, seed uint64) *chaosWork {
	w := &chaosWork{e: e, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), class: map[string]string{},
		live: map[string]chaosClaim{}}
	for _, d := range drivers {
		w.class[d.name] = e.storageClass(d.name+"-imm", d.driver, nil, storagev1.VolumeBindingImmediate)
	}
	w.snapClass = e.ns + "-snap"
	sc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotClass",
		"metadata": map[string]any{"name": w.snapClass}, "driver": "topols.io", "deletionPolicy": "Delete",
	}}
	if _, err := e.dyn.Resource(snapshotClasses).Create(e.ctx, sc, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = e.dyn.Resource(snapshotClasses).Delete(e.ctx, w.snapClass, metav1.DeleteOptions{}) })
	return w
}

// intn is the shared generator's next number below n (the bursts and the
// kills draw from it at once).
func (w *chaosWork) intn(n int) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.rng.IntN(n)
}

// burst is one driver's share of a round: new claims, deletions of old
// ones (bound or not yet), growth of bound ones, a snapshot on TopoLS. It
// returns the first API error; the cluster's own failures show in the end
// state, not here.
func (w *chaosWork) burst(d driverCase, creates int) error {
	for i := 0; i < creates; i++ {
		w.mu.Lock()
		w.seq++
		name := fmt.Sprintf("%s-%d", d.name, w.seq)
		w.mu.Unlock()
		cl := claim{name: name, sc: w.class[d.name], size: chaosSize}
		pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: w.e.ns}, Spec: cl.spec()}
		if _, err := w.e.cs.CoreV1().PersistentVolumeClaims(w.e.ns).Create(w.e.ctx, pvc, metav1.CreateOptions{}); err != nil {
			return err
		}
		w.mu.Lock()
		w.live[name] = chaosClaim{d: d, size: resource.MustParse(chaosSize)}
		w.counts.created++
		w.mu.Unlock()
		time.Sleep(time.Duration(w.intn(400)) * time.Millisecond)
		if err := w.oneOf(d); err != nil {
			return err
		}
	}
	return nil
}

// oneOf deletes, grows or (TopoLS) snapshots one of the driver's claims
// at random: any claim can be deleted (bound or still being provisioned),
// only a Bound one grown or snapshotted. Past 10 live claims it deletes,
// so that the volume groups never fill.
func (w *chaosWork) oneOf(d driverCase) error {
	pvcs, err := w.e.cs.CoreV1().PersistentVolumeClaims(w.e.ns).List(w.e.ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	w.mu.Lock()
	var all, bound []string
	for _, p := range pvcs.Items {
		if c, ok := w.live[p.Name]; ok && c.d.name == d.name {
			all = append(all, p.Name)
			if p.Status.Phase == corev1.ClaimBound {
				bound = append(bound, p.Name)
			}
		}
	}
	// Half the time a deletion, as many as the creations: the number of
	// live claims wanders around where it is. Past the cap a deletion
	// comes first, and the growth or snapshot still happens.
	const (
		del = iota
		grow
		snapOrGrow
	)
	what := []int{del, del, grow, snapOrGrow}[w.rng.IntN(4)]
	pick := func(names []string) string { return names[w.rng.IntN(len(names))] }
	var victim, name string
	if len(all) > 10 {
		victim = pick(all)
		if what == del {
			what = grow
		}
	}
	switch {
	case what == del && len(all) > 1:
		name = pick(all)
	case what != del && len(bound) > 0:
		name = pick(bound)
	}
	w.mu.Unlock()
	if victim != "" {
		if err := w.deleteClaim(victim); err != nil {
			return err
		}
	}
	switch {
	case name == "" || name == victim:
		return nil
	case what == del:
		return w.deleteClaim(name)
	case what == snapOrGrow && d.name == "topols":
		return w.snapshot(name)
	}
	return w.grow(name)
}

func (w *chaosWork) deleteClaim(name string) error {
	if err := w.e.cs.CoreV1().PersistentVolumeClaims(w.e.ns).Delete(w.e.ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.live, name)
	w.gone = append(w.gone, name)
	w.counts.deleted++
	return nil
}

// grow asks 128Mi more for a Bound claim (an unbound claim cannot be
// grown).
func (w *chaosWork) grow(name string) error {
	pvc := w.boundClaim(name)
	if pvc == nil || len(pvc.Status.AllocatedResourceStatuses) > 0 {
		// A growth under way, or waiting for the node: a TopoLVM
		// filesystem grows on the node only once a pod mounts it, and
		// Kubernetes takes no further growth before that.
		return nil
	}
	size := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	size.Add(resource.MustParse("128Mi"))
	patch := fmt.Sprintf(`{"spec":{"resources":{"requests":{"storage":%q}}}}`, size.String())
	if _, err := w.e.cs.CoreV1().PersistentVolumeClaims(w.e.ns).Patch(w.e.ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if c, ok := w.live[name]; ok {
		c.size = size
		w.live[name] = c
	}
	w.counts.expanded++
	return nil
}

// boundClaim is the claim if it is Bound (a deletion may have raced the
// caller's pick), else nil.
func (w *chaosWork) boundClaim(name string) *corev1.PersistentVolumeClaim {
	pvc, err := w.e.cs.CoreV1().PersistentVolumeClaims(w.e.ns).Get(w.e.ctx, name, metav1.GetOptions{})
	if err != nil || pvc.Status.Phase != corev1.ClaimBound {
		return nil
	}
	return pvc
}

// snapshot takes a VolumeSnapshot of a TopoLS claim once it is Bound.
func (w *chaosWork) snapshot(name string) error {
	if w.boundClaim(name) == nil {
		return nil
	}
	w.mu.Lock()
	w.seq++
	snap := fmt.Sprintf("snap-%d", w.seq)
	w.mu.Unlock()
	o := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
		"metadata": map[string]any{"name": snap, "namespace": w.e.ns},
		"spec": map[string]any{"volumeSnapshotClassName": w.snapClass,
			"source": map[string]any{"persistentVolumeClaimName": name}},
	}}
	if _, err := w.e.dyn.Resource(volumeSnapshots).Namespace(w.e.ns).Create(w.e.ctx, o, metav1.CreateOptions{}); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.snaps = append(w.snaps, snap)
	w.counts.snapshots++
	return nil
}

// dropSnapshots deletes the snapshots of earlier rounds (their contents
// and subvolumes must go too: the leak check sees any left).
func (w *chaosWork) dropSnapshots() {
	w.mu.Lock()
	snaps := w.snaps
	w.snaps = nil
	w.mu.Unlock()
	for _, s := range snaps {
		if err := w.e.dyn.Resource(volumeSnapshots).Namespace(w.e.ns).Delete(w.e.ctx, s, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			w.e.t.Fatal(err)
		}
	}
}

// settled waits until every live claim is Bound with a PV at least as
// large as last asked (or its growth refused in place), every deleted one
// is gone and every snapshot is readyToUse; it returns how many claims it
// checked, and how many growths were refused in place.
func (w *chaosWork) settled(timeout time.Duration) (claims, refused int) {
	e := w.e
	e.t.Helper()
	w.mu.Lock()
	live := make(map[string]chaosClaim, len(w.live))
	for k, v := range w.live {
		live[k] = v
	}
	gone, snaps := slices.Clone(w.gone), slices.Clone(w.snaps)
	w.mu.Unlock()
	var missing string
	var refusals map[string]bool
	err := e.Cluster.waitFor(e.ctx, "every claim Bound at its size, every deleted claim gone, every snapshot ready", timeout, func() (bool, error) {
		refusals = map[string]bool{}
		for name, c := range live {
			pvc, err := e.cs.CoreV1().PersistentVolumeClaims(e.ns).Get(e.ctx, name, metav1.GetOptions{})
			if err != nil {
				missing = name + ": " + err.Error()
				return false, nil
			}
			if pvc.Status.Phase != corev1.ClaimBound {
				missing = name + " " + string(pvc.Status.Phase)
				return false, nil
			}
			pv, err := e.cs.CoreV1().PersistentVolumes().Get(e.ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
			if err != nil {
				missing = name + ": PV " + err.Error()
				return false, nil
			}
			if got := pv.Spec.Capacity[corev1.ResourceStorage]; got.Cmp(c.size) < 0 {
				if !refusedInPlace(pvc) {
					missing = fmt.Sprintf("%s: PV %s of %s, asked %s", name, pv.Name, got.String(), c.size.String())
					return false, nil
				}
				refusals[name] = true
			}
		}
		for _, name := range gone {
			pvc, err := e.cs.CoreV1().PersistentVolumeClaims(e.ns).Get(e.ctx, name, metav1.GetOptions{})
			if !apierrors.IsNotFound(err) {
				// What holds it: finalizers, and the volume it names.
				missing = fmt.Sprintf("%s still there (err %v): %+v, %+v", name, err, pvc.ObjectMeta, pvc.Status)
				return false, nil
			}
		}
		for _, s := range snaps {
			o, err := e.dyn.Resource(volumeSnapshots).Namespace(e.ns).Get(e.ctx, s, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			if ready, _, _ := unstructured.NestedBool(o.Object, "status", "readyToUse"); !ready {
				missing = "snapshot " + s + " not ready"
				return false, nil
			}
		}
		missing = ""
		return true, nil
	})
	if err != nil {
		e.t.Fatalf("%v: %s", err, missing) // the env prints the namespace's events
	}
	return len(live) + len(gone), len(refusals)
}

// refusedInPlace: the claim's growth was refused because the LV cannot
// grow where it lies. These nodes' LVs use lvmd's development-loop
// activation (no device-mapper), which needs each LV in one contiguous run
// of extents; in a burst, LVs are made side by side, so one followed by
// another cannot grow. That refusal (FailedPrecondition, kept on the claim
// by csi-resizer) is the right answer here, not a failure of the test.
func refusedInPlace(pvc *corev1.PersistentVolumeClaim) bool {
	for _, c := range pvc.Status.Conditions {
		if c.Type == corev1.PersistentVolumeClaimControllerResizeError && strings.Contains(c.Message, "FailedPrecondition") &&
			strings.Contains(c.Message, "development loop activation needs each volume in one contiguous run") {
			return true
		}
	}
	return false
}
