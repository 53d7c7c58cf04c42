package charts_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"

	controllerapp "github.com/toposuite/toposuite/cmd/topolvm-controller/app"
	"github.com/toposuite/toposuite/internal/webhook"
)

// The driver charts, with their default release, namespace and driver.
var driverCharts = []struct{ chart, namespace, driver string }{
	{"topolvm", "topolvm-system", "topolvm.io"},
	{"topols", "topols-system", "topols.io"},
}

func webhookValues(extra map[string]any) map[string]any {
	w := map[string]any{"enabled": true}
	for k, v := range extra {
		w[k] = v
	}
	return map[string]any{"webhook": w}
}

// controllerRules are the rules of the driver's :controller ClusterRole.
func controllerRules(t *testing.T, r *rendered, driver string) []rbacv1.PolicyRule {
	t.Helper()
	return get[rbacv1.ClusterRole](t, r, "ClusterRole", driver+":controller").Rules
}

func grants(rules []rbacv1.PolicyRule, group, resource string, verbs ...string) bool {
	for _, rule := range rules {
		if slices.Contains(rule.APIGroups, group) && slices.Contains(rule.Resources, resource) {
			ok := true
			for _, v := range verbs {
				ok = ok && slices.Contains(rule.Verbs, v)
			}
			if ok {
				return true
			}
		}
	}
	return false
}

// The webhook is off by default: it only makes sense with the extender.
func TestChartsWebhookOffByDefault(t *testing.T) {
	t.Parallel()
	for _, c := range driverCharts {
		r := render(t, c.chart, c.chart, c.namespace, nil)
		for _, kind := range []string{"MutatingWebhookConfiguration", "Secret", "Certificate", "Issuer"} {
			if objs := r.ofKind(kind); len(objs) != 0 {
				t.Errorf("%s: %s rendered with the webhook off", c.chart, kind)
			}
		}
		if r.find("Service", c.chart+"-webhook") != nil {
			t.Errorf("%s: webhook Service rendered with the webhook off", c.chart)
		}
		spec := get[appsv1.Deployment](t, r, "Deployment", c.chart+"-controller").Spec.Template.Spec
		noArgPrefix(t, container(t, spec, "controller"), "--webhook-")
	}
}

// Fast binding (off by default) needs StorageClasses and the update rights of
// kube-controller-manager's volume controllers; off, the controller has
// neither unless the webhook needs the classes.
func TestChartsFastBindingRights(t *testing.T) {
	t.Parallel()
	rights := [][2]string{{"", "persistentvolumeclaims"}, {"", "persistentvolumeclaims/status"}, {"", "persistentvolumes"}, {"", "persistentvolumes/status"}}
	for _, c := range driverCharts {
		on := map[string]any{"controller": map[string]any{"fastBinding": true}}
		rules := controllerRules(t, render(t, c.chart, c.chart, c.namespace, on), c.driver)
		for _, r := range rights {
			if !grants(rules, r[0], r[1], "update") {
				t.Errorf("%s: fast binding on, the controller may not update %s", c.chart, r[1])
			}
		}
		if !grants(rules, "storage.k8s.io", "storageclasses", "get") || !grants(rules, "", "pods", "list", "watch") {
			t.Errorf("%s: fast binding on, the controller may not read StorageClasses or list pods", c.chart)
		}
		off := render(t, c.chart, c.chart, c.namespace, nil)
		rules = controllerRules(t, off, c.driver)
		for _, r := range rights {
			if grants(rules, r[0], r[1], "update") {
				t.Errorf("%s: fast binding off, the controller may still update %s", c.chart, r[1])
			}
		}
		if grants(rules, "storage.k8s.io", "storageclasses", "get") || grants(rules, "", "pods", "list") {
			t.Errorf("%s: fast binding and webhook off, the controller reads StorageClasses or lists pods", c.chart)
		}
		spec := get[appsv1.Deployment](t, off, "Deployment", c.chart+"-controller").Spec.Template.Spec
		wantArgs(t, container(t, spec, "controller"), "--fast-binding=false")
	}
}

func TestChartsWebhook(t *testing.T) {
	t.Parallel()
	for _, c := range driverCharts {
		t.Run(c.chart, func(t *testing.T) {
			t.Parallel()
			r := render(t, c.chart, c.chart, c.namespace, webhookValues(nil))
			svcName, secretName := c.chart+"-webhook", c.chart+"-webhook-cert"

			conf := get[admissionregistrationv1.MutatingWebhookConfiguration](t, r, "MutatingWebhookConfiguration", "pod-capacity."+c.driver)
			if len(conf.Webhooks) != 1 {
				t.Fatalf("webhooks %+v", conf.Webhooks)
			}
			w := conf.Webhooks[0]
			want := admissionregistrationv1.MutatingWebhook{
				Name: "pod-capacity." + c.driver,
				ClientConfig: admissionregistrationv1.WebhookClientConfig{
					Service: &admissionregistrationv1.ServiceReference{
						Namespace: c.namespace, Name: svcName, Path: ptr.To(webhook.PodMutatePath), Port: ptr.To[int32](443)},
					CABundle: w.ClientConfig.CABundle, // checked below
				},
				Rules: []admissionregistrationv1.RuleWithOperations{{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
					Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"},
						Scope: ptr.To(admissionregistrationv1.NamespacedScope)},
				}},
				FailurePolicy:      ptr.To(admissionregistrationv1.Ignore),
				MatchPolicy:        ptr.To(admissionregistrationv1.Equivalent),
				SideEffects:        ptr.To(admissionregistrationv1.SideEffectClassNone),
				TimeoutSeconds:     ptr.To[int32](5),
				ReinvocationPolicy: ptr.To(admissionregistrationv1.IfNeededReinvocationPolicy),
				NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
					{Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpNotIn, Values: []string{c.namespace}}}},
				AdmissionReviewVersions: []string{"v1"},
			}
			if diff := cmp.Diff(want, w); diff != "" {
				t.Errorf("webhook (-want +got):\n%s", diff)
			}
			if _, ok := conf.Annotations["cert-manager.io/inject-ca-from"]; ok {
				t.Error("cert-manager annotation without cert-manager")
			}

			// The Service reaches the controller pods' webhook port.
			d := get[appsv1.Deployment](t, r, "Deployment", c.chart+"-controller")
			spec := d.Spec.Template.Spec
			svc := get[corev1.Service](t, r, "Service", svcName)
			if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 443 || svc.Spec.Ports[0].TargetPort.String() != "webhook" {
				t.Errorf("Service ports %+v", svc.Spec.Ports)
			}
			for k, v := range svc.Spec.Selector {
				if d.Spec.Template.Labels[k] != v {
					t.Errorf("Service selector %v does not select the controller pods %v", svc.Spec.Selector, d.Spec.Template.Labels)
				}
			}
			ctl := container(t, spec, "controller")
			wantArgs(t, ctl, "--webhook-address=:9443", "--webhook-cert-dir=/etc/toposuite/webhook")
			checkCobraFlags(t, "controller", controllerapp.NewCommand(), ctl.Args)
			if !slices.ContainsFunc(ctl.Ports, func(p corev1.ContainerPort) bool { return p.Name == "webhook" && p.ContainerPort == 9443 }) {
				t.Errorf("controller ports %+v", ctl.Ports)
			}
			m, v := mountAt(t, spec, ctl, "/etc/toposuite/webhook")
			if v.Secret == nil || v.Secret.SecretName != secretName || !m.ReadOnly {
				t.Errorf("certificate mount %+v from %+v", m, v.VolumeSource)
			}

			// The certificate: signed by the CA the API server is given, for the Service's name.
			s := get[corev1.Secret](t, r, "Secret", secretName)
			if s.Type != corev1.SecretTypeTLS {
				t.Errorf("Secret type %q", s.Type)
			}
			if string(w.ClientConfig.CABundle) != string(s.Data["ca.crt"]) {
				t.Error("caBundle is not the Secret's ca.crt")
			}
			checkServingCert(t, s.Data, svcName+"."+c.namespace+".svc")

			// Reading what it counts; nothing more.
			rules := controllerRules(t, r, c.driver)
			if !grants(rules, "storage.k8s.io", "storageclasses", "get", "list", "watch") || !grants(rules, "", "persistentvolumeclaims", "get") {
				t.Errorf("the webhook cannot read StorageClasses and PVCs: %+v", rules)
			}
			checkRBAC(t, r, c.driver, "controller", "provisioner", "resizer", "snapshotter", "node")
			checkNamespaces(t, r, c.namespace)
		})
	}
}

// checkServingCert checks a kubernetes.io/tls Secret's certificate: its key
// pair, and that it verifies against ca.crt as a server certificate for dnsName.
func checkServingCert(t *testing.T, data map[string][]byte, dnsName string) {
	t.Helper()
	if _, err := tls.X509KeyPair(data["tls.crt"], data["tls.key"]); err != nil {
		t.Fatalf("tls.crt and tls.key: %v", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(data["ca.crt"]) {
		t.Fatalf("ca.crt holds no certificate:\n%s", data["ca.crt"])
	}
	block, _ := pem.Decode(data["tls.crt"])
	if block == nil {
		t.Fatal("tls.crt is not PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{DNSName: dnsName, Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Errorf("serving certificate for %s: %v", dnsName, err)
	}
	if left := time.Until(cert.NotAfter); left < 9*365*24*time.Hour {
		t.Errorf("serving certificate expires in %v", left)
	}
}

func TestChartsWebhookCertManager(t *testing.T) {
	t.Parallel()
	r := render(t, "topolvm", "lvm", "storage", webhookValues(map[string]any{"certManager": map[string]any{"enabled": true}}))
	if len(r.ofKind("Secret")) != 0 {
		t.Error("a certificate Secret is rendered though cert-manager makes it")
	}
	conf := get[admissionregistrationv1.MutatingWebhookConfiguration](t, r, "MutatingWebhookConfiguration", "pod-capacity.topolvm.io")
	if got := conf.Annotations["cert-manager.io/inject-ca-from"]; got != "storage/lvm-topolvm-webhook-cert" {
		t.Errorf("inject-ca-from %q", got)
	}
	if len(conf.Webhooks[0].ClientConfig.CABundle) != 0 {
		t.Error("a caBundle is rendered though cert-manager injects it")
	}
	str := func(o *unstructured.Unstructured, path ...string) string {
		s, _, _ := unstructured.NestedString(o.Object, path...)
		return s
	}
	cert := r.find("Certificate", "lvm-topolvm-webhook-cert")
	if cert == nil {
		t.Fatal("no serving Certificate")
	}
	dnsNames, _, _ := unstructured.NestedStringSlice(cert.Object, "spec", "dnsNames")
	if str(cert, "spec", "secretName") != "lvm-topolvm-webhook-cert" || !slices.Contains(dnsNames, "lvm-topolvm-webhook.storage.svc") ||
		str(cert, "spec", "issuerRef", "name") != "lvm-topolvm-webhook-ca" || str(cert, "spec", "issuerRef", "kind") != "Issuer" {
		t.Errorf("serving Certificate %v", cert.Object["spec"])
	}
	ca := r.find("Certificate", "lvm-topolvm-webhook-ca")
	if ca == nil || str(ca, "spec", "issuerRef", "name") != "lvm-topolvm-webhook-selfsigned" || ca.Object["spec"].(map[string]any)["isCA"] != true {
		t.Errorf("CA Certificate %v", ca)
	}
	for _, name := range []string{"lvm-topolvm-webhook-selfsigned", "lvm-topolvm-webhook-ca"} {
		if o := r.find("Issuer", name); o == nil || o.GetNamespace() != "storage" {
			t.Errorf("Issuer %s: %v", name, o)
		}
	}
	if str(r.find("Issuer", "lvm-topolvm-webhook-ca"), "spec", "ca", "secretName") != "lvm-topolvm-webhook-ca" {
		t.Error("the CA Issuer does not sign with the CA Certificate's Secret")
	}
	spec := get[appsv1.Deployment](t, r, "Deployment", "lvm-topolvm-controller").Spec.Template.Spec
	if _, v := mountAt(t, spec, container(t, spec, "controller"), "/etc/toposuite/webhook"); v.Secret == nil || v.Secret.SecretName != "lvm-topolvm-webhook-cert" {
		t.Errorf("the controller mounts %+v, not the Certificate's Secret", v.VolumeSource)
	}

	// An issuer of one's own: no Issuers of the chart.
	r = render(t, "topols", "topols", "topols-system", webhookValues(map[string]any{"certManager": map[string]any{
		"enabled": true, "issuerRef": map[string]any{"name": "corp-ca", "kind": "ClusterIssuer"}}}))
	if n := len(r.ofKind("Issuer")); n != 0 {
		t.Errorf("%d Issuers rendered with an issuerRef", n)
	}
	if n := len(r.ofKind("Certificate")); n != 1 {
		t.Errorf("%d Certificates rendered with an issuerRef, want the serving one", n)
	}
	cert = r.find("Certificate", "topols-webhook-cert")
	if str(cert, "spec", "issuerRef", "name") != "corp-ca" || str(cert, "spec", "issuerRef", "kind") != "ClusterIssuer" ||
		str(cert, "spec", "issuerRef", "group") != "cert-manager.io" {
		t.Errorf("issuerRef %v", cert.Object["spec"])
	}
}

func TestChartsWebhookPolicyAndSelectors(t *testing.T) {
	t.Parallel()
	r := render(t, "topols", "topols", "topols-system", webhookValues(map[string]any{
		"failurePolicy": "Fail", "timeoutSeconds": 2, "port": 10443,
		"namespaceSelector": map[string]any{
			"matchLabels":      map[string]any{"storage": "local"},
			"matchExpressions": []any{map[string]any{"key": "tier", "operator": "In", "values": []any{"db"}}},
		},
		"objectSelector": map[string]any{"matchExpressions": []any{map[string]any{"key": "topols.io/webhook", "operator": "NotIn", "values": []any{"ignore"}}}},
	}))
	w := get[admissionregistrationv1.MutatingWebhookConfiguration](t, r, "MutatingWebhookConfiguration", "pod-capacity.topols.io").Webhooks[0]
	if *w.FailurePolicy != admissionregistrationv1.Fail || *w.TimeoutSeconds != 2 {
		t.Errorf("failurePolicy %v, timeoutSeconds %v", *w.FailurePolicy, *w.TimeoutSeconds)
	}
	wantNS := &metav1.LabelSelector{
		MatchLabels: map[string]string{"storage": "local"},
		MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"db"}},
			// Even with Fail, the controller's own namespace is left out.
			{Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"topols-system"}},
		},
	}
	if diff := cmp.Diff(wantNS, w.NamespaceSelector); diff != "" {
		t.Errorf("namespaceSelector (-want +got):\n%s", diff)
	}
	wantObj := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: "topols.io/webhook", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"ignore"}}}}
	if diff := cmp.Diff(wantObj, w.ObjectSelector); diff != "" {
		t.Errorf("objectSelector (-want +got):\n%s", diff)
	}
	spec := get[appsv1.Deployment](t, r, "Deployment", "topols-controller").Spec.Template.Spec
	wantArgs(t, container(t, spec, "controller"), "--webhook-address=:10443")
	// The webhook needs the controller: without it, nothing is rendered.
	r = render(t, "topols", "topols", "topols-system", map[string]any{
		"webhook": map[string]any{"enabled": true}, "controller": map[string]any{"enabled": false}})
	if len(r.ofKind("MutatingWebhookConfiguration")) != 0 || r.find("Service", "topols-webhook") != nil {
		t.Error("webhook rendered without the controller")
	}
}
