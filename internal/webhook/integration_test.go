//go:build integration

package webhook_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/google/go-cmp/cmp"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/toposuite/toposuite/csi"
	"github.com/toposuite/toposuite/internal/controllerplugin"
	"github.com/toposuite/toposuite/internal/testutil"
	"github.com/toposuite/toposuite/internal/webhook"
)

const gib = int64(1) << 30

// startController runs topolvm-controller's plugin for driver d with its
// pod webhook on a free port of 127.0.0.1, registered with the API server
// by a MutatingWebhookConfiguration like the chart's (but failurePolicy
// Fail, so that a webhook that does not answer fails the test instead of
// passing for "untouched"), with a certificate envtest makes.
func startController(t *testing.T, cfg *rest.Config, d csi.Driver) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	url := fmt.Sprintf("https://127.0.0.1:%d%s", port, webhook.PodMutatePath)
	name := "pod-capacity." + d.Name
	conf := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name:         name,
			ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &url},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"},
					Scope: ptr.To(admissionregistrationv1.NamespacedScope)},
			}},
			FailurePolicy:           ptr.To(admissionregistrationv1.Fail),
			SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
			AdmissionReviewVersions: []string{"v1"},
			ReinvocationPolicy:      ptr.To(admissionregistrationv1.IfNeededReinvocationPolicy),
			TimeoutSeconds:          ptr.To[int32](10),
		}},
	}
	hook := &envtest.WebhookInstallOptions{
		MutatingWebhooks: []*admissionregistrationv1.MutatingWebhookConfiguration{conf},
		LocalServingHost: "127.0.0.1", LocalServingPort: port,
	}
	if err := hook.Install(cfg); err != nil {
		t.Fatalf("install the webhook configuration: %v", err)
	}
	t.Cleanup(func() { _ = hook.Cleanup() })

	socket := filepath.Join(testutil.Dir(t), "csi.sock")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- controllerplugin.Run(ctx, controllerplugin.Options{
			Driver: d, CSISocket: socket, MetricsAddress: "0", HealthAddress: "0",
			WebhookAddress: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), WebhookCertDir: hook.LocalServingCertDir,
			RestConfig: cfg, Log: testr.NewWithInterface(t, testr.Options{}).WithName(d.ShortName()),
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s controller: %v", d.Name, err)
		}
	})
	// Serving, with the certificate the API server trusts.
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(hook.LocalServingCAData)
	testutil.Eventually(t, d.Name+" webhook to serve", func() bool {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
			&tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
		if err == nil {
			conn.Close()
		}
		return err == nil
	})
}

// Both drivers' controllers with their webhooks against a real API server:
// pods are mutated by the API server through the webhooks, each driver
// counting only its own volumes.
func TestIntegrationPodWebhook(t *testing.T) {
	cfg, c := testutil.APIServer(t)
	lvm, ls := csi.LVMDriver("topolvm.io"), csi.BtrfsDriver("topols.io")
	startController(t, cfg, lvm)
	startController(t, cfg, ls)
	ctx := testutil.Context(t)
	create := func(objs ...client.Object) {
		t.Helper()
		for _, o := range objs {
			if err := c.Create(ctx, o); err != nil {
				t.Fatalf("create %T %s: %v", o, o.GetName(), err)
			}
		}
	}

	ns := "app"
	create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	wffc := ptr.To(storagev1.VolumeBindingWaitForFirstConsumer)
	create(
		&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "lvm"}, Provisioner: lvm.Name, VolumeBindingMode: wffc},
		&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "lvm-fast"}, Provisioner: lvm.Name, VolumeBindingMode: wffc,
			Parameters: map[string]string{lvm.Param(csi.ParamDeviceClass): "fast"}},
		&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "ls"}, Provisioner: ls.Name, VolumeBindingMode: wffc},
		&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "nfs"}, Provisioner: "nfs.example.com", VolumeBindingMode: wffc},
	)
	claim := func(name, class, size string) *corev1.PersistentVolumeClaim {
		return &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				StorageClassName: &class,
				Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}},
			},
		}
	}
	create(claim("data", "lvm", "5Gi"), claim("logs", "lvm", "3Gi"), claim("fast", "lvm-fast", "2Gi"),
		claim("ls-data", "ls", "7Gi"), claim("nfs", "nfs", "1Gi"))
	// Bound claims: a PV of the driver's, claimed by the PVC, the PVC bound
	// to it (what the PV controller does, without it running here).
	bind := func(pvc *corev1.PersistentVolumeClaim) {
		t.Helper()
		pv := &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: "pv-" + pvc.Name},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:         corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("9Gi")},
				AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				StorageClassName: *pvc.Spec.StorageClassName,
				PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{
					Driver: lvm.Name, VolumeHandle: "pv-" + pvc.Name}},
				ClaimRef: &corev1.ObjectReference{Namespace: ns, Name: pvc.Name},
			},
		}
		pvc.Spec.VolumeName = pv.Name
		create(pv, pvc)
		pvc.Status.Phase = corev1.ClaimBound
		if err := c.Status().Update(ctx, pvc); err != nil {
			t.Fatal(err)
		}
	}
	bind(claim("bound", "lvm", "9Gi"))
	bind(claim("eph-bound-scratch", "lvm", "9Gi")) // the generic ephemeral volume's PVC of pod eph-bound

	pvcVolume := func(name, claim string) corev1.Volume {
		return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}
	}
	ephemeral := func(name, class, size string) corev1.Volume {
		return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{
			VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{Spec: claim("", class, size).Spec}}}}
	}
	inline := func(name, driver string, attrs map[string]string) corev1.Volume {
		return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{
			Driver: driver, VolumeAttributes: attrs}}}
	}

	type need struct {
		driver  csi.Driver
		byClass map[string]int64
	}
	for _, tc := range []struct {
		pod     string
		volumes []corev1.Volume
		want    []need // empty: untouched
	}{
		{"unbound", []corev1.Volume{pvcVolume("v", "data")}, []need{{lvm, map[string]int64{"": 5 * gib}}}},
		{"summed", []corev1.Volume{pvcVolume("a", "data"), pvcVolume("b", "logs")}, []need{{lvm, map[string]int64{"": 8 * gib}}}},
		{"two-classes", []corev1.Volume{pvcVolume("a", "data"), pvcVolume("b", "fast")},
			[]need{{lvm, map[string]int64{"": 5 * gib, "fast": 2 * gib}}}},
		{"eph", []corev1.Volume{ephemeral("scratch", "lvm-fast", "4Gi")}, []need{{lvm, map[string]int64{"fast": 4 * gib}}}},
		{"eph-bound", []corev1.Volume{ephemeral("scratch", "lvm", "9Gi")}, nil},
		{"inline", []corev1.Volume{inline("v", lvm.Name, map[string]string{csi.ParamSize: "2Gi", lvm.Param(csi.ParamDeviceClass): "fast"})},
			[]need{{lvm, map[string]int64{"fast": 2 * gib}}}},
		{"bound", []corev1.Volume{pvcVolume("v", "bound")}, nil},
		{"other-driver", []corev1.Volume{pvcVolume("v", "nfs")}, nil},
		{"no-volumes", nil, nil},
		{"topols", []corev1.Volume{pvcVolume("v", "ls-data")}, []need{{ls, map[string]int64{"": 7 * gib}}}},
		{"both-drivers", []corev1.Volume{pvcVolume("a", "data"), pvcVolume("b", "ls-data"), pvcVolume("c", "bound"),
			inline("d", ls.Name, map[string]string{csi.ParamSize: "1Gi", ls.Param(csi.ParamDeviceClass): "pool"})},
			[]need{{lvm, map[string]int64{"": 5 * gib}}, {ls, map[string]int64{"": 7 * gib, "pool": gib}}}},
	} {
		t.Run(tc.pod, func(t *testing.T) {
			p := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: tc.pod, Namespace: ns, Annotations: map[string]string{"example.com/keep": "yes"}},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{
						{Name: "app", Image: "busybox", Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m")}}},
						{Name: "sidecar", Image: "busybox"},
					},
					Volumes: tc.volumes,
				},
			}
			if err := c.Create(ctx, p); err != nil {
				t.Fatalf("create pod: %v", err)
			}
			var got corev1.Pod
			if err := c.Get(ctx, client.ObjectKeyFromObject(p), &got); err != nil {
				t.Fatal(err)
			}
			wantAnnotations := map[string]string{"example.com/keep": "yes"}
			wantRequests := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m")}
			var wantLimits corev1.ResourceList
			for _, n := range tc.want {
				for class, b := range n.byClass {
					wantAnnotations[n.driver.CapacityAnnotation(class)] = strconv.FormatInt(b, 10)
				}
				if wantLimits == nil {
					wantLimits = corev1.ResourceList{}
				}
				wantRequests[corev1.ResourceName(n.driver.CapacityResource())] = resource.MustParse("1")
				wantLimits[corev1.ResourceName(n.driver.CapacityResource())] = resource.MustParse("1")
			}
			if diff := cmp.Diff(wantAnnotations, got.Annotations); diff != "" {
				t.Errorf("annotations (-want +got):\n%s", diff)
			}
			res := got.Spec.Containers[0].Resources
			if diff := cmp.Diff(quantities(wantRequests), quantities(res.Requests)); diff != "" {
				t.Errorf("first container's requests (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(quantities(wantLimits), quantities(res.Limits)); diff != "" {
				t.Errorf("first container's limits (-want +got):\n%s", diff)
			}
			if r := got.Spec.Containers[1].Resources; len(r.Requests)+len(r.Limits) != 0 {
				t.Errorf("second container's resources %+v", r)
			}
		})
	}
}

// quantities prints a resource list for comparison.
func quantities(l corev1.ResourceList) map[string]string {
	if len(l) == 0 {
		return nil
	}
	out := map[string]string{}
	for k, q := range l {
		out[string(k)] = q.String()
	}
	return out
}
