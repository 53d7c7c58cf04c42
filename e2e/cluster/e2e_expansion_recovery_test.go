//go:build e2e

package cluster

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestE2EExpansionRecovery: a claim grown past its node's room fails, and
// the user recovers the way Kubernetes provides: by lowering the claim's
// request. The volume then grows to the lowered size, on the small device
// class of each driver, with a pod using it.
func TestE2EExpansionRecovery(t *testing.T) {
	eachDriver(t, func(e *env, d driverCase) {
		t := e.t
		params := map[string]string{d.driver + "/device-class": smallClass}
		from, lowered := "256Mi", "384Mi"
		if d.driver == "topolvm.io" {
			params["csi.storage.k8s.io/fstype"] = "xfs"
			from, lowered = "512Mi", "768Mi" // xfs takes 300 MiB at least
		}
		smallClassMu[d.driver].Lock()
		defer smallClassMu[d.driver].Unlock()
		sc := e.storageClass("recover-"+d.name, d.driver, params, storagev1.VolumeBindingWaitForFirstConsumer)
		name := d.name + "-recover"
		e.createPVC(claim{name: name, sc: sc, size: from})
		pod := name + "-user"
		e.createPod(e.pod(pod, "", pvcVol(name)))
		e.waitPod(pod, corev1.PodRunning)
		resize := func(size string) {
			t.Helper()
			if _, err := e.cs.CoreV1().PersistentVolumeClaims(e.ns).Patch(e.ctx, name, types.MergePatchType,
				[]byte(`{"spec":{"resources":{"requests":{"storage":"`+size+`"}}}}`), metav1.PatchOptions{}); err != nil {
				t.Fatalf("request %s: %v", size, err)
			}
		}
		resize("1Ti")
		var failure string
		e.waitFor("the expansion past the node's room to fail", 2*time.Minute, func() (bool, error) {
			evs, err := e.cs.CoreV1().Events(e.ns).List(e.ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + name})
			if err != nil {
				return false, err
			}
			for _, ev := range evs.Items {
				if ev.Reason == "VolumeResizeFailed" {
					failure = ev.Message
					return true, nil
				}
			}
			return false, nil
		})
		t.Logf("the claim's event: %s", failure)
		resize(lowered)
		want := resource.MustParse(lowered)
		e.waitFor("the claim to reach the lowered size "+lowered, 3*time.Minute, func() (bool, error) {
			p, err := e.cs.CoreV1().PersistentVolumeClaims(e.ns).Get(e.ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			c := p.Status.Capacity[corev1.ResourceStorage]
			return c.Cmp(want) >= 0, nil
		})
		e.deletePod(pod)
		e.deletePVC(name, pvVolume(e.bound(name)))
	})
}
