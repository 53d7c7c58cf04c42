//go:build e2e

package cluster

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestE2EDataSafety: a claim deleted while a pod uses it is not let go
// until the pod is gone, also across a restart of the driver's controller
// in between: with the controllers' fast binding off (the reference:
// kube-controller-manager's PVC protection alone) and on (the controller
// lets deleted claims go itself). Per driver, three claims are deleted
// while a pod names each: one running with data written, one scheduled
// but unable to start (its image is absent), one made a moment before the
// deletion. Every controller container is then killed with SIGKILL; once
// the controllers are back, for a while, each claim is still there with
// its protection finalizer, its PV Bound and its volume on the node, and
// the running pod reads its data back; then each claim, its PV and its
// volume go once its pod is deleted, and not before. The charts' values
// are restored at the end. Not parallel: it changes the controllers every
// other test uses.
func TestE2EDataSafety(t *testing.T) {
	e := newEnv(t)
	orig := map[string]bool{}
	for _, d := range drivers {
		orig[d.name] = e.fastBinding(d)
	}
	t.Cleanup(func() {
		for _, d := range drivers {
			if e.fastBinding(d) != orig[d.name] {
				e.setFastBinding(d, orig[d.name])
			}
		}
	})
	for _, on := range []bool{false, true} {
		mode := map[bool]string{false: "fast-binding-off", true: "fast-binding-on"}[on]
		t.Run(mode, func(t *testing.T) {
			e := e.with(t)
			var wg sync.WaitGroup
			for _, d := range drivers {
				if e.fastBinding(d) != on {
					wg.Add(1)
					go func() { defer wg.Done(); e.setFastBinding(d, on) }()
				}
			}
			wg.Wait()
			for _, d := range drivers {
				t.Run(d.name, func(t *testing.T) {
					t.Parallel()
					e.with(t).claimsHeld(d, mode)
				})
			}
		})
	}
}

// fastBinding reads the driver's controller Deployment: is fast binding on?
func (e *env) fastBinding(d driverCase) bool {
	e.t.Helper()
	dep, err := e.cs.AppsV1().Deployments(controllerNamespace(d)).Get(e.ctx, d.name+"-controller", metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, c := range dep.Spec.Template.Spec.Containers {
		if slices.Contains(c.Args, "--fast-binding=true") {
			return true
		}
	}
	return false
}

// setFastBinding switches the chart's controller.fastBinding (the chart
// grants the rights it needs with it).
func (e *env) setFastBinding(d driverCase, on bool) {
	e.t.Helper()
	e.helmSet(d, fmt.Sprintf("controller.fastBinding=%t", on))
}

func (e *env) claimsHeld(d driverCase, mode string) {
	t := e.t
	sc := e.storageClass(d.name+"-"+strings.TrimPrefix(mode, "fast-binding-")+"-held", d.driver, nil, storagev1.VolumeBindingImmediate)
	prefix := d.name + "-" + mode + "-"
	running, pending, fresh := prefix+"running", prefix+"pending", prefix+"fresh"
	vols := map[string]volume{}
	for _, name := range []string{running, pending, fresh} {
		e.createPVC(claim{name: name, sc: sc, size: "256Mi"})
	}
	for _, name := range []string{running, pending, fresh} {
		vols[name] = pvVolume(e.bound(name))
	}
	e.createPod(e.pod(running, "", pvcVol(running)))
	e.waitPod(running, corev1.PodRunning)
	sum := logValue(e.mustExec(running, writeFile), "sum")

	// Scheduled on the volume's node, but its image is nowhere: it stays
	// Pending, its volume mounted.
	p := e.pod(pending, "", pvcVol(pending))
	p.Spec.NodeName = vols[pending].node
	p.Spec.Containers[0].Image = "docker.io/toposuite/absent:none"
	e.createPod(p)
	e.waitFor("pod "+pending+" waiting for its absent image", 2*time.Minute, func() (bool, error) {
		p, err := e.cs.CoreV1().Pods(e.ns).Get(e.ctx, pending, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range p.Status.ContainerStatuses {
			if c.State.Waiting != nil && strings.Contains(c.State.Waiting.Reason, "Image") {
				return true, nil
			}
		}
		return false, nil
	})
	for _, name := range []string{running, pending} {
		e.deleteClaimOnly(name)
	}
	// Made a moment before its claim's deletion, on the volume's node.
	p = e.pod(fresh, "", pvcVol(fresh))
	p.Spec.NodeName = vols[fresh].node
	e.createPod(p)
	e.deleteClaimOnly(fresh)

	// Every container of both controller replicas is killed: whatever
	// the controller remembered of the claims it saw is lost.
	pods, err := e.suitePods(controllerNamespace(d), d.name+"-controller")
	if err != nil {
		t.Fatal(err)
	}
	for i := range pods {
		if _, err := e.killContainers(&pods[i], ""); err != nil {
			t.Fatal(err)
		}
	}
	e.waitSuiteReady(nil)
	// Nothing happening is only seen by looking for a while: the
	// controllers have long seen the deleted claims once they are back.
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); time.Sleep(time.Second) {
		for _, name := range []string{running, pending, fresh} {
			e.mustBeHeld(name, vols[name])
		}
	}
	if got := logValue(e.mustExec(running, readFile), "sum"); got != sum {
		t.Errorf("%s: the running pod reads checksum %q, wrote %q", running, got, sum)
	}
	t.Logf("%s, %s: the three deleted claims held by their pods across a controller restart", d.name, mode)

	// Each claim goes with its pod, not before.
	e.deletePod(running)
	e.waitVolumeGone(vols[running])
	e.mustBeHeld(pending, vols[pending])
	e.mustBeHeld(fresh, vols[fresh])
	for _, name := range []string{pending, fresh} {
		e.deletePod(name)
		e.waitVolumeGone(vols[name])
	}
	if e.fastBinding(d) {
		// kube-controller-manager races fast binding for each claim: who
		// won is told, not checked.
		t.Logf("%s: fast binding let %d claims go itself (since the restart; kube-controller-manager the rest)", d.name, e.fastBindingSteps(d, "unprotect-claim"))
	}
}

// fastBindingSteps sums a fast binding step's counter over the driver's
// controller replicas, read through the API server's pod proxy.
func (e *env) fastBindingSteps(d driverCase, step string) int {
	pods, err := e.suitePods(controllerNamespace(d), d.name+"-controller")
	if err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for _, p := range pods {
		b, err := e.cs.CoreV1().Pods(p.Namespace).ProxyGet("http", p.Name, "8080", "metrics", nil).DoRaw(e.ctx)
		if err != nil {
			e.t.Logf("metrics of %s: %v", p.Name, err)
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "toposuite_controller_fast_binding_steps_total{") && strings.Contains(line, `step="`+step+`"`) {
				f := strings.Fields(line)
				v, _ := strconv.ParseFloat(f[len(f)-1], 64)
				n += int(v)
			}
		}
	}
	return n
}

// deleteClaimOnly deletes a claim without waiting for anything.
func (e *env) deleteClaimOnly(name string) {
	e.t.Helper()
	if err := e.cs.CoreV1().PersistentVolumeClaims(e.ns).Delete(e.ctx, name, metav1.DeleteOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

// mustBeHeld: the deleted claim is still there, protected, its PV Bound
// to it and its volume on the node.
func (e *env) mustBeHeld(name string, v volume) {
	e.t.Helper()
	pvc, err := e.cs.CoreV1().PersistentVolumeClaims(e.ns).Get(e.ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		e.t.Fatalf("claim %s was let go while a pod names it", name)
	case err != nil:
		e.t.Fatal(err)
	case pvc.DeletionTimestamp == nil || !slices.Contains(pvc.Finalizers, "kubernetes.io/pvc-protection"):
		e.t.Fatalf("claim %s: deletion %v, finalizers %v: want deleted and protected", name, pvc.DeletionTimestamp, pvc.Finalizers)
	}
	pv, err := e.cs.CoreV1().PersistentVolumes().Get(e.ctx, v.pv, metav1.GetOptions{})
	if err != nil {
		e.t.Fatalf("claim %s held, but its PV: %v", name, err)
	}
	if pv.Status.Phase != corev1.VolumeBound {
		e.t.Fatalf("claim %s held, but its PV %s is %s", name, pv.Name, pv.Status.Phase)
	}
	if s, ok := e.onNode(v); !ok {
		e.t.Fatalf("claim %s held, but on its node: %s", name, s)
	}
}
