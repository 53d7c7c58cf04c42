//go:build integration

package csi_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/toposuite/toposuite/btrfsd"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/toposuite/toposuite/internal/testutil"
)

// TestIntegrationSnapshotAndRestoreThroughTheSidecars takes a
// VolumeSnapshot of a TopoLS PVC with the real snapshot-controller and
// csi-snapshotter v8.7.0 and restores it into a new PVC: both are btrfs
// snapshots on the source's node, the restore writable and marked with its
// source. (LVM snapshots need device-mapper, which this machine lacks.)
func TestIntegrationSnapshotAndRestoreThroughTheSidecars(t *testing.T) {
	p, pool := btrfsRig(t)
	snapshotter, controller := testutil.Tool(t, "csi-snapshotter"), testutil.Tool(t, "snapshot-controller")
	crds := filepath.Join(filepath.Dir(filepath.Dir(snapshotter)), "crds", "snapshot")
	if _, err := envtest.InstallCRDs(p.cfg, envtest.CRDInstallOptions{Paths: []string{crds}, ErrorIfPathMissing: true}); err != nil {
		t.Fatal(err)
	}
	sidecars(t, p, "topols.io/device-class", "fast", "")
	kc := testutil.Kubeconfig(t, p.cfg)
	testutil.Process(t, controller, "-kubeconfig", kc, "-leader-election=false", "-feature-gates=CSIVolumeGroupSnapshot=false")
	testutil.Process(t, snapshotter, "--csi-address", p.ctlSock, "--kubeconfig", kc, "--leader-election=false", "--timeout=60s")
	c := testutil.Context(t)

	scName := "sc"
	claim := func(name string, source *corev1.TypedLocalObjectReference) *corev1.PersistentVolumeClaim {
		pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, StorageClassName: &scName,
				DataSource: source, Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("64Mi")}}}}
		if err := p.c.Create(c, pvc); err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, "PVC "+name+" to be Bound", func() bool {
			return p.c.Get(c, client.ObjectKeyFromObject(pvc), pvc) == nil && pvc.Status.Phase == corev1.ClaimBound
		})
		return pvc
	}
	src := claim("source", nil)
	var pv corev1.PersistentVolume
	if err := p.c.Get(c, client.ObjectKey{Name: src.Spec.VolumeName}, &pv); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pool, pv.Spec.CSI.VolumeHandle, "data"), []byte("before the snapshot"), 0o644); err != nil {
		t.Fatal(err)
	}

	obj := func(kind, name string, fields map[string]any) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: fields}
		u.SetAPIVersion("snapshot.storage.k8s.io/v1")
		u.SetKind(kind)
		u.SetName(name)
		return u
	}
	class := obj("VolumeSnapshotClass", "topols", map[string]any{"driver": p.d.Name, "deletionPolicy": "Delete"})
	if err := p.c.Create(c, class); err != nil {
		t.Fatal(err)
	}
	snap := obj("VolumeSnapshot", "snap", map[string]any{"spec": map[string]any{
		"volumeSnapshotClassName": "topols", "source": map[string]any{"persistentVolumeClaimName": "source"},
	}})
	snap.SetNamespace("default")
	if err := p.c.Create(c, snap); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the VolumeSnapshot to be ready", func() bool {
		ready, _, _ := unstructured.NestedBool(snap.Object, "status", "readyToUse")
		return p.c.Get(c, client.ObjectKeyFromObject(snap), snap) == nil && ready
	})
	// Written after the snapshot: the restore must not see it.
	if err := os.WriteFile(filepath.Join(pool, pv.Spec.CSI.VolumeHandle, "later"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}

	group := "snapshot.storage.k8s.io"
	restored := claim("restored", &corev1.TypedLocalObjectReference{APIGroup: &group, Kind: "VolumeSnapshot", Name: "snap"})
	var rpv corev1.PersistentVolume
	if err := p.c.Get(c, client.ObjectKey{Name: restored.Spec.VolumeName}, &rpv); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(pool, rpv.Spec.CSI.VolumeHandle)
	if b, err := os.ReadFile(filepath.Join(dir, "data")); err != nil || string(b) != "before the snapshot" {
		t.Errorf("restored data: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "later")); err == nil {
		t.Error("the restore shows a file written after the snapshot")
	}
	buf := make([]byte, 128)
	n, err := unix.Getxattr(dir, btrfsd.SourceXattr, buf)
	if err != nil || n == 0 {
		t.Errorf("restored subvolume has no source mark: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "writable"), []byte("x"), 0o644); err != nil {
		t.Errorf("the restore is not writable: %v", err)
	}

	// Deleting everything leaves the pool empty.
	for _, o := range []client.Object{restored, snap, src} {
		if err := p.c.Delete(c, o); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, "the pool to be empty", func() bool { e, _ := os.ReadDir(pool); return len(e) == 0 })
}
