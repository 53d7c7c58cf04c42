//go:build integration

package controller_test

import (
	"context"
	"slices"
	"testing"

	"github.com/go-logr/logr/testr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/toposuite/toposuite/csi"
	"github.com/toposuite/toposuite/internal/controller"
	"github.com/toposuite/toposuite/internal/scheme"
	tu "github.com/toposuite/toposuite/internal/testutil"
)

// fastBindingEnv is a real API server without kube-controller-manager, so
// everything that happens to claims and volumes here is fast binding's
// doing (or the test's, standing in for csi-provisioner and the PVC
// protection controller).
type fastBindingEnv struct {
	t     *testing.T
	c     client.Client
	d     csi.Driver
	steps *prometheus.CounterVec
}

func startFastBinding(t *testing.T) *fastBindingEnv {
	cfg, c := tu.APIServer(t)
	d := csi.LVMDriver("topolvm.io")
	s, _ := scheme.New()
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: s, Metrics: metricsserver.Options{BindAddress: "0"}})
	if err != nil {
		t.Fatal(err)
	}
	steps, err := controller.NewFastBindingSteps(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	fb := &controller.FastBinding{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Driver: d, Workers: 4, Steps: steps,
		Log: testr.NewWithInterface(t, testr.Options{})}
	if err := fb.SetupWithManager(ctx, mgr); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return &fastBindingEnv{t: t, c: c, d: d, steps: steps}
}

func (e *fastBindingEnv) create(o client.Object) {
	e.t.Helper()
	if err := e.c.Create(context.Background(), o); err != nil {
		e.t.Fatal(err)
	}
}

func (e *fastBindingEnv) class(name, provisioner string, mode storagev1.VolumeBindingMode) {
	e.create(&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Provisioner: provisioner, VolumeBindingMode: &mode})
}

func (e *fastBindingEnv) claim(name, class string, size string, ann map[string]string) *corev1.PersistentVolumeClaim {
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Annotations: ann},
		Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &class, AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}}}}
	e.create(pvc)
	return pvc
}

// provision makes the volume csi-provisioner would make for pvc.
func (e *fastBindingEnv) provision(pvc *corev1.PersistentVolumeClaim, driver, size string) *corev1.PersistentVolume {
	// The finalizer is the one the API server's StorageObjectInUseProtection
	// admission adds.
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pvc-" + string(pvc.UID),
		Annotations: map[string]string{"pv.kubernetes.io/provisioned-by": driver}, Finalizers: []string{"kubernetes.io/pv-protection"}},
		Spec: corev1.PersistentVolumeSpec{
			Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}, AccessModes: pvc.Spec.AccessModes,
			StorageClassName: *pvc.Spec.StorageClassName, PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
			PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: driver, VolumeHandle: string(pvc.UID)}},
			ClaimRef: &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1", Namespace: pvc.Namespace, Name: pvc.Name,
				UID: pvc.UID, ResourceVersion: pvc.ResourceVersion},
		}}
	e.create(pv)
	return pv
}

func (e *fastBindingEnv) getClaim(name string) *corev1.PersistentVolumeClaim {
	var pvc corev1.PersistentVolumeClaim
	if err := e.c.Get(context.Background(), client.ObjectKey{Namespace: "default", Name: name}, &pvc); err != nil {
		e.t.Fatal(err)
	}
	return &pvc
}

func (e *fastBindingEnv) getVolume(name string) (*corev1.PersistentVolume, error) {
	var pv corev1.PersistentVolume
	return &pv, e.c.Get(context.Background(), client.ObjectKey{Name: name}, &pv)
}

func (e *fastBindingEnv) announced(name string) bool {
	a := e.getClaim(name).Annotations
	return a["volume.kubernetes.io/storage-provisioner"] == e.d.Name && a["volume.beta.kubernetes.io/storage-provisioner"] == e.d.Name
}

func (e *fastBindingEnv) count(step string) float64 {
	return testutil.ToFloat64(e.steps.WithLabelValues(e.d.Name, step))
}

func TestIntegrationFastBinding(t *testing.T) {
	e := startFastBinding(t)
	bg := context.Background()
	e.class("fast", e.d.Name, storagev1.VolumeBindingImmediate)
	e.class("later", e.d.Name, storagev1.VolumeBindingWaitForFirstConsumer)
	e.class("theirs", "other.example.com", storagev1.VolumeBindingImmediate)
	e.class("static", e.d.Name, storagev1.VolumeBindingImmediate)

	// Cases left to kube-controller-manager, made first so that the
	// workers meet them before the cases they must handle.
	free := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "free"}, Spec: corev1.PersistentVolumeSpec{
		Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}, StorageClassName: "static",
		AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: e.d.Name, VolumeHandle: "free"}}}}
	e.create(free)
	e.claim("could-bind", "static", "1Gi", nil) // a free volume of its class could be bound instead
	e.claim("not-ours", "theirs", "1Gi", nil)
	e.claim("waits", "later", "1Gi", nil) // no node chosen yet
	small := e.claim("too-small", "fast", "2Gi", nil)
	other := e.claim("other-driver", "fast", "1Gi", nil)
	tu.Eventually(t, "claims to be announced", func() bool { return e.announced("too-small") && e.announced("other-driver") })
	tooSmall := e.provision(small, e.d.Name, "1Gi")
	otherPV := e.provision(other, "other.example.com", "1Gi")

	// Announced: an Immediate claim of the driver, a WaitForFirstConsumer
	// claim once the scheduler chose its node.
	e.claim("data", "fast", "1Gi", nil)
	tu.Eventually(t, "the Immediate claim to be announced", func() bool { return e.announced("data") })
	pvc := e.getClaim("waits")
	pvc.Annotations = map[string]string{"volume.kubernetes.io/selected-node": "n1"}
	if err := e.c.Update(bg, pvc); err != nil {
		t.Fatal(err)
	}
	tu.Eventually(t, "the WaitForFirstConsumer claim to be announced once a node is chosen", func() bool { return e.announced("waits") })

	// Bound: the volume made for the claim, as kube-controller-manager binds.
	data := e.getClaim("data")
	pv := e.provision(data, e.d.Name, "1Gi")
	tu.Eventually(t, "the claim to be Bound", func() bool { return e.getClaim("data").Status.Phase == corev1.ClaimBound })
	data = e.getClaim("data")
	if data.Spec.VolumeName != pv.Name || data.Annotations["pv.kubernetes.io/bind-completed"] != "yes" ||
		data.Annotations["pv.kubernetes.io/bound-by-controller"] != "yes" {
		t.Errorf("bound claim: volumeName %q, annotations %v", data.Spec.VolumeName, data.Annotations)
	}
	if got := data.Status.Capacity[corev1.ResourceStorage]; got.Cmp(resource.MustParse("1Gi")) != 0 || !slices.Equal(data.Status.AccessModes, pv.Spec.AccessModes) {
		t.Errorf("bound claim status: capacity %v, access modes %v", data.Status.Capacity, data.Status.AccessModes)
	}
	if got, err := e.getVolume(pv.Name); err != nil || got.Status.Phase != corev1.VolumeBound {
		t.Fatalf("volume of the bound claim: %v, %v", got.Status.Phase, err)
	}

	// A deleted claim no pod names goes; one a pod names stays until the
	// pod goes. Their volumes are released once they are gone, then let go
	// when deleted.
	scratch := e.claim("scratch", "fast", "1Gi", nil)
	tu.Eventually(t, "the second claim to be announced", func() bool { return e.announced("scratch") })
	scratchPV := e.provision(scratch, e.d.Name, "1Gi")
	tu.Eventually(t, "the second claim to be Bound", func() bool { return e.getClaim("scratch").Status.Phase == corev1.ClaimBound })
	e.create(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "user", Namespace: "default"}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "c", Image: "busybox"}},
		Volumes: []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}}}}})
	for _, name := range []string{"data", "scratch"} {
		c := e.getClaim(name)
		if !slices.Contains(c.Finalizers, "kubernetes.io/pvc-protection") { // the admission plugin's
			c.Finalizers = append(c.Finalizers, "kubernetes.io/pvc-protection")
			if err := e.c.Update(bg, c); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.c.Delete(bg, c); err != nil {
			t.Fatal(err)
		}
	}
	released := func(pv *corev1.PersistentVolume) func() bool {
		return func() bool {
			got, err := e.getVolume(pv.Name)
			return err == nil && got.Status.Phase == corev1.VolumeReleased
		}
	}
	tu.Eventually(t, "the claim no pod names to go", func() bool {
		return e.c.Get(bg, client.ObjectKey{Namespace: "default", Name: "scratch"}, &corev1.PersistentVolumeClaim{}) != nil
	})
	tu.Eventually(t, "its volume to be Released", released(scratchPV))
	if held := e.getClaim("data"); held.DeletionTimestamp.IsZero() || !slices.Contains(held.Finalizers, "kubernetes.io/pvc-protection") {
		t.Fatalf("the claim a pod names lost its protection: %v", held.Finalizers)
	}
	// The pod goes: the claim it held goes too.
	if err := e.c.Delete(bg, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "user", Namespace: "default"}}, client.GracePeriodSeconds(0)); err != nil {
		t.Fatal(err)
	}
	tu.Eventually(t, "the claim the deleted pod held to go", func() bool {
		return e.c.Get(bg, client.ObjectKey{Namespace: "default", Name: "data"}, &corev1.PersistentVolumeClaim{}) != nil
	})
	tu.Eventually(t, "its volume to be Released", released(pv))
	for _, v := range []*corev1.PersistentVolume{pv, scratchPV} {
		if err := e.c.Delete(bg, v); err != nil {
			t.Fatal(err)
		}
		tu.Eventually(t, "the deleted, released volume to go", func() bool {
			_, err := e.getVolume(v.Name)
			return err != nil
		})
	}

	// What it had to leave alone is as it was.
	for _, name := range []string{"could-bind", "not-ours"} {
		if e.announced(name) {
			t.Errorf("claim %q was announced", name)
		}
	}
	for _, name := range []string{"too-small", "other-driver"} {
		if c := e.getClaim(name); c.Spec.VolumeName != "" || c.Status.Phase == corev1.ClaimBound {
			t.Errorf("claim %q was bound: %q, %s", name, c.Spec.VolumeName, c.Status.Phase)
		}
	}
	for _, v := range []*corev1.PersistentVolume{tooSmall, otherPV} {
		if got, err := e.getVolume(v.Name); err != nil || got.Status.Phase == corev1.VolumeBound {
			t.Errorf("volume %q: phase %s, %v", v.Name, got.Status.Phase, err)
		}
	}
	for step, want := range map[string]float64{"announce": 5, "bind": 2, "unprotect-claim": 2, "release": 2, "unprotect-volume": 2} {
		if got := e.count(step); got != want {
			t.Errorf("%d %q steps, want %d", int(got), step, int(want))
		}
	}
}
