//go:build integration

package csi_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/toposuite/toposuite/internal/testutil"
)

// TestIntegrationPVCThroughTheSidecars drives the LVM driver the way a
// cluster does, with the real csi-provisioner v6.3.0 and csi-resizer v2.3.0
// talking to the controller's socket and the real kube-controller-manager
// binding claims: a PVC is provisioned and Bound, grown (the PV follows),
// and deleted (PV and LV go). There is no kubelet here: the node publishes
// through CSI in the other tests.
func TestIntegrationPVCThroughTheSidecars(t *testing.T) {
	p, env, vg := lvmRig(t)
	sidecars(t, p, "topolvm.io/device-class", "ssd", "xfs")
	pvcLifecycle(t, p, "300Mi", "400Mi", func(handle string) bool {
		return strings.Contains(env.LVM(t, "lvs", "--noheadings", "-o", "lv_name", vg), handle)
	}, func(handle string) string {
		return strings.TrimSpace(env.LVM(t, "lvs", "--noheadings", "-o", "lv_size", "--units", "b", "--nosuffix", vg+"/"+handle))
	})
	if out := strings.TrimSpace(env.LVM(t, "lvs", "--noheadings", "-o", "lv_name", vg)); out != "" {
		t.Errorf("LVs left: %s", out)
	}
}

// TestIntegrationPVCThroughTheSidecarsBtrfs is the same for TopoLS: the
// volume is a subvolume whose quota is the size.
func TestIntegrationPVCThroughTheSidecarsBtrfs(t *testing.T) {
	p, pool := btrfsRig(t)
	sidecars(t, p, "topols.io/device-class", "fast", "")
	pvcLifecycle(t, p, "64Mi", "96Mi", func(handle string) bool {
		_, err := os.Stat(filepath.Join(pool, handle))
		return err == nil
	}, nil)
	testutil.Eventually(t, "the pool to be empty", func() bool { e, _ := os.ReadDir(pool); return len(e) == 0 })
}

// sidecars starts kube-controller-manager (PV binding and expansion),
// csi-provisioner and csi-resizer against p's controller, registers the
// node the way node-driver-registrar would, and makes an Immediate
// StorageClass named "sc".
func sidecars(t *testing.T, p *plugins, classKey, class, fstype string) {
	t.Helper()
	provisioner, resizer, kcm := testutil.Tool(t, "csi-provisioner"), testutil.Tool(t, "csi-resizer"), testutil.Tool(t, "kube-controller-manager")
	c := testutil.Context(t)
	kc := testutil.Kubeconfig(t, p.cfg)

	testutil.RegisterCSINode(t, p.c, p.d, nodeName)
	expand := true
	immediate := storagev1.VolumeBindingImmediate
	params := map[string]string{classKey: class}
	if fstype != "" {
		params["csi.storage.k8s.io/fstype"] = fstype
	}
	sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "sc"}, Provisioner: p.d.Name,
		Parameters: params, AllowVolumeExpansion: &expand, VolumeBindingMode: &immediate}
	if err := p.c.Create(c, sc); err != nil {
		t.Fatal(err)
	}

	testutil.Process(t, kcm, "--kubeconfig", kc, "--leader-elect=false", "--secure-port=0",
		"--controllers=persistentvolume-binder-controller,persistentvolume-expander-controller,persistentvolumeclaim-protection-controller,persistentvolume-protection-controller")
	testutil.Process(t, provisioner, "--csi-address", p.ctlSock, "--kubeconfig", kc, "--leader-election=false",
		"--feature-gates=Topology=true", "--strict-topology", "--extra-create-metadata", "--timeout=60s")
	testutil.Process(t, resizer, "--csi-address", p.ctlSock, "--kubeconfig", kc, "--leader-election=false", "--timeout=60s")
}

// pvcLifecycle creates a PVC of size in StorageClass "sc", waits until it is
// Bound and its volume exists (exists), grows it to grown and checks the PV
// (and, when sizeOf is given, the volume) follow, then deletes it and waits
// for the PV and the LogicalVolume to go.
func pvcLifecycle(t *testing.T, p *plugins, size, grown string, exists func(handle string) bool, sizeOf func(handle string) string) {
	t.Helper()
	c := testutil.Context(t)
	scName := "sc"
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "default"},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, StorageClassName: &scName,
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}}}}
	if err := p.c.Create(c, pvc); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(pvc)
	testutil.Eventually(t, "the PVC to be Bound", func() bool {
		return p.c.Get(c, key, pvc) == nil && pvc.Status.Phase == corev1.ClaimBound
	})
	var pv corev1.PersistentVolume
	if err := p.c.Get(c, client.ObjectKey{Name: pvc.Spec.VolumeName}, &pv); err != nil {
		t.Fatal(err)
	}
	handle := pv.Spec.CSI.VolumeHandle
	if !exists(handle) {
		t.Fatalf("volume %s was not made", handle)
	}
	if got := pv.Spec.NodeAffinity.Required.NodeSelectorTerms[0].MatchExpressions[0]; got.Key != p.d.TopologyKey || got.Values[0] != nodeName {
		t.Errorf("PV node affinity = %+v", got)
	}

	// Grow the claim: the resizer calls ControllerExpandVolume and the PV follows.
	patch := client.MergeFrom(pvc.DeepCopy())
	pvc.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse(grown)
	if err := p.c.Patch(c, pvc, patch); err != nil {
		t.Fatal(err)
	}
	want := resource.MustParse(grown)
	testutil.Eventually(t, "the PV to grow", func() bool {
		q := pv.Spec.Capacity[corev1.ResourceStorage]
		return p.c.Get(c, client.ObjectKey{Name: pv.Name}, &pv) == nil && q.Cmp(want) >= 0
	})
	if sizeOf != nil {
		if got := sizeOf(handle); got != strconv.FormatInt(want.Value(), 10) {
			t.Errorf("volume size after expansion = %s, want %d", got, want.Value())
		}
	}

	// Delete the claim: the PV (reclaim policy Delete) and the LV go.
	if err := p.c.Delete(c, pvc); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the PV to go", func() bool { return p.c.Get(c, client.ObjectKey{Name: pv.Name}, &pv) != nil })
	p.lvGone(t, handle)
}
