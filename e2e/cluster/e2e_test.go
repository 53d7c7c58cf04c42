//go:build e2e

package cluster

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestE2E: on each driver, a WaitForFirstConsumer PVC and a pod writing
// 64 MiB to it: bound, mounted, the data written, the LV or subvolume on
// the pod's node, the pod's capacity request from the driver's webhook;
// then deleting the PVC removes the volume.
func TestE2E(t *testing.T) {
	t.Parallel()
	c := sharedCluster(t)
	ctx := context.Background()
	const ns = "e2e"
	if _, err := c.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, d := range []struct{ name, sc, backend, what string }{
		{"lvm", "topolvm-provisioner", "LV " + vgName + "/", "LV"},
		{"btrfs", "topols-provisioner", "btrfs subvolume " + poolPath + "/", "subvolume"},
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, err := c.WriteToNewPVC(ctx, ns, d.name+"-wffc", d.sc, 64)
			if err != nil {
				t.Errorf("%s: %v", d.name, err)
				return
			}
			t.Logf("%s: node %s, %s; %d bytes written; Bound %.2f s, pod done %.2f s", d.name, w.Node, w.Backend, w.Bytes,
				w.Bound.Seconds(), w.Done.Seconds())
			if w.Bytes != 64<<20 {
				t.Errorf("%s: the pod wrote %d bytes, want %d", d.name, w.Bytes, 64<<20)
			}
			if !strings.HasPrefix(w.Backend, d.backend) {
				t.Errorf("%s: on the node: %q, want %s...", d.name, w.Backend, d.backend)
			}
			// The driver's pod webhook gave the pod its capacity request,
			// which sends it to the scheduler extender.
			if p, err := c.cs.CoreV1().Pods(ns).Get(ctx, w.Pod, metav1.GetOptions{}); err != nil {
				t.Error(err)
			} else if _, ok := p.Spec.Containers[0].Resources.Requests[corev1.ResourceName(w.Driver+"/capacity")]; !ok {
				t.Errorf("%s: the pod has no %s/capacity request (webhook): %v", d.name, w.Driver, p.Spec.Containers[0].Resources.Requests)
			}
			// Deleting the pod and the PVC removes the volume on the node.
			t0 := time.Now()
			zero := int64(0)
			if err := c.cs.CoreV1().Pods(ns).Delete(ctx, w.Pod, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
				t.Error(err)
				return
			}
			if err := c.cs.CoreV1().PersistentVolumeClaims(ns).Delete(ctx, w.PVC, metav1.DeleteOptions{}); err != nil {
				t.Error(err)
				return
			}
			err = c.waitFor(ctx, d.name+" volume removed", 2*time.Minute, func() (bool, error) {
				_, err := c.cs.CoreV1().PersistentVolumes().Get(ctx, w.PV, metav1.GetOptions{})
				return apierrors.IsNotFound(err) && strings.HasPrefix(c.backend(ctx, w), "no "), nil
			})
			if err != nil {
				t.Errorf("%s: %v", d.name, err)
				return
			}
			t.Logf("%s: PV and %s gone %.2f s after deleting the pod and PVC", d.name, d.what, time.Since(t0).Seconds())
		}()
	}
	wg.Wait()
}
