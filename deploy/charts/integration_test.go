//go:build integration

package charts_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/toposuite/toposuite/internal/testutil"
)

// TopoLVM and TopoLS installed by helm into two namespaces of a real API
// server (which also validates every object), with lvmd and the scheduler
// extender alone in their own; uninstalling one driver leaves the other
// and the shared CRD alone.
func TestIntegrationChartsInstallSideBySide(t *testing.T) {
	cfg, c := testutil.APIServer(t) // installs the CRD, as a first chart would
	kc := testutil.Kubeconfig(t, cfg)
	install := func(release, chart, namespace string, set ...string) {
		t.Helper()
		args := []string{"install", release, chart, "--namespace", namespace, "--create-namespace", "--kubeconfig", kc}
		for _, s := range set {
			args = append(args, "--set", s)
		}
		if out, err := helm(t, args...); err != nil {
			t.Fatalf("helm install %s: %v\n%s", chart, err, out)
		}
	}
	install("topolvm", "topolvm", "topolvm-system", "lvmd.mode=daemonset")
	install("topols", "topols", "topols-system", "node.registration=sidecar")
	install("lvmd", "lvmd", "lvmd-system")
	install("topolvm-scheduler", "topolvm-scheduler", "topolvm-system")

	ctx := t.Context()
	exists := func(obj client.Object, namespace, name string) {
		t.Helper()
		if err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, obj); err != nil {
			t.Errorf("%T %s/%s: %v", obj, namespace, name, err)
		}
	}
	for _, driver := range []string{"topolvm.io", "topols.io"} {
		exists(&storagev1.CSIDriver{}, "", driver)
		for _, role := range []string{"controller", "provisioner", "resizer", "snapshotter", "node"} {
			exists(&rbacv1.ClusterRole{}, "", driver+":"+role)
			exists(&rbacv1.ClusterRoleBinding{}, "", driver+":"+role)
		}
	}
	exists(&storagev1.StorageClass{}, "", "topolvm-provisioner")
	exists(&storagev1.StorageClass{}, "", "topols-provisioner")
	exists(&appsv1.Deployment{}, "topolvm-system", "topolvm-controller")
	exists(&appsv1.DaemonSet{}, "topolvm-system", "topolvm-node")
	exists(&appsv1.DaemonSet{}, "topolvm-system", "topolvm-lvmd")
	exists(&appsv1.Deployment{}, "topols-system", "topols-controller")
	exists(&appsv1.DaemonSet{}, "topols-system", "topols-node")
	exists(&appsv1.DaemonSet{}, "lvmd-system", "lvmd")
	exists(&appsv1.Deployment{}, "topolvm-system", "topolvm-scheduler")
	exists(&corev1.Service{}, "topolvm-system", "topolvm-scheduler")

	if out, err := helm(t, "uninstall", "topols", "--namespace", "topols-system", "--kubeconfig", kc); err != nil {
		t.Fatalf("helm uninstall topols: %v\n%s", err, out)
	}
	exists(&storagev1.CSIDriver{}, "", "topolvm.io")
	exists(&rbacv1.ClusterRole{}, "", "topolvm.io:controller")
	crd := &metav1.PartialObjectMetadata{}
	crd.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
	exists(crd, "", "logicalvolumes.topolvm.io")
	var gone storagev1.CSIDriver
	if err := c.Get(ctx, types.NamespacedName{Name: "topols.io"}, &gone); err == nil {
		t.Error("CSIDriver topols.io is still there after helm uninstall topols")
	}
}

// The helm-made webhook certificate survives upgrades: the chart looks up
// its Secret instead of making a new CA at every release, and the
// MutatingWebhookConfiguration's caBundle stays the Secret's CA.
func TestIntegrationChartsWebhookCertificateKeptOnUpgrade(t *testing.T) {
	cfg, c := testutil.APIServer(t)
	kc := testutil.Kubeconfig(t, cfg)
	ctx := t.Context()
	ns := "topolvm-system"
	state := func() (map[string][]byte, []byte) {
		t.Helper()
		var s corev1.Secret
		if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: "topolvm-webhook-cert"}, &s); err != nil {
			t.Fatal(err)
		}
		var conf admissionregistrationv1.MutatingWebhookConfiguration
		if err := c.Get(ctx, types.NamespacedName{Name: "pod-capacity.topolvm.io"}, &conf); err != nil {
			t.Fatal(err)
		}
		return s.Data, conf.Webhooks[0].ClientConfig.CABundle
	}
	if out, err := helm(t, "install", "topolvm", "topolvm", "--namespace", ns, "--create-namespace", "--kubeconfig", kc,
		"--set", "webhook.enabled=true"); err != nil {
		t.Fatalf("helm install: %v\n%s", err, out)
	}
	data, caBundle := state()
	checkServingCert(t, data, "topolvm-webhook."+ns+".svc")
	if string(caBundle) != string(data["ca.crt"]) {
		t.Error("caBundle is not the Secret's CA")
	}
	if out, err := helm(t, "upgrade", "topolvm", "topolvm", "--namespace", ns, "--kubeconfig", kc,
		"--set", "webhook.enabled=true", "--set", "webhook.timeoutSeconds=3"); err != nil {
		t.Fatalf("helm upgrade: %v\n%s", err, out)
	}
	after, afterCA := state()
	if diff := cmp.Diff(data, after); diff != "" {
		t.Errorf("the certificate changed on upgrade (-before +after):\n%s", diff)
	}
	if string(afterCA) != string(caBundle) {
		t.Error("the caBundle changed on upgrade")
	}
	var conf admissionregistrationv1.MutatingWebhookConfiguration
	if err := c.Get(ctx, types.NamespacedName{Name: "pod-capacity.topolvm.io"}, &conf); err != nil || *conf.Webhooks[0].TimeoutSeconds != 3 {
		t.Errorf("the upgrade did not reach the webhook configuration: %v", err)
	}
}
