//go:build integration

package controller_test

import (
	"context"
	"github.com/prometheus/client_golang/prometheus"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	"github.com/toposuite/toposuite/internal/api/operator/v1alpha1"
	"github.com/toposuite/toposuite/internal/operator/apply"
	"github.com/toposuite/toposuite/internal/operator/controller"
	"github.com/toposuite/toposuite/internal/operator/report"
	"github.com/toposuite/toposuite/internal/scheme"
	"github.com/toposuite/toposuite/internal/testutil"
)

const ns = "toposuite-system"

const clusterYAML = `
apiVersion: operator.topolvm.io/v1alpha1
kind: TopolvmCluster
metadata: {name: topolvm}
spec:
  nodeGroups:
    - name: ssd
      nodeSelector: {disk: ssd}
      volumeGroups: [{name: vg-ssd, devices: [/dev/loop10]}]
      deviceClasses: [{name: ssd, volumeGroup: vg-ssd, default: true}]
    - name: hdd
      nodeSelector: {disk: hdd}
      volumeGroups: [{name: vg-hdd, devices: [/dev/loop11]}]
      deviceClasses: [{name: hdd, volumeGroup: vg-hdd, default: true}]
`

type env struct {
	t   *testing.T
	ctx context.Context
	c   client.Client
}

func (e *env) get(gvk schema.GroupVersionKind, namespace, name string) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	return u, e.c.Get(e.ctx, client.ObjectKey{Namespace: namespace, Name: name}, u)
}

func (e *env) exists(gvk schema.GroupVersionKind, namespace, name string) bool {
	_, err := e.get(gvk, namespace, name)
	if err != nil && !apierrors.IsNotFound(err) {
		e.t.Fatalf("get %s %s/%s: %v", gvk.Kind, namespace, name, err)
	}
	return err == nil
}

// create creates the object of a YAML document.
func (e *env) create(doc string) {
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
		e.t.Fatal(err)
	}
	if err := e.c.Create(e.ctx, u); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) cluster() *v1alpha1.TopolvmCluster {
	var tc v1alpha1.TopolvmCluster
	if err := e.c.Get(e.ctx, client.ObjectKey{Name: v1alpha1.ClusterName}, &tc); err != nil {
		e.t.Fatal(err)
	}
	return &tc
}

func (e *env) update(change func(*v1alpha1.TopolvmCluster)) {
	tc := e.cluster()
	patch := client.MergeFrom(tc.DeepCopy())
	change(tc)
	if err := e.c.Patch(e.ctx, tc, patch); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) condition(t string) *metav1.Condition {
	tc := e.cluster()
	if tc.Status.ObservedGeneration != tc.Generation {
		return nil
	}
	return meta.FindStatusCondition(tc.Status.Conditions, t)
}

var (
	daemonSet     = appsv1.SchemeGroupVersion.WithKind("DaemonSet")
	deployment    = appsv1.SchemeGroupVersion.WithKind("Deployment")
	storageClass  = storagev1.SchemeGroupVersion.WithKind("StorageClass")
	csiDriver     = storagev1.SchemeGroupVersion.WithKind("CSIDriver")
	service       = corev1.SchemeGroupVersion.WithKind("Service")
	secret        = corev1.SchemeGroupVersion.WithKind("Secret")
	crd           = apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition")
	inventoryKind = corev1.SchemeGroupVersion.WithKind("ConfigMap")
	policy        = admissionv1.SchemeGroupVersion.WithKind("ValidatingAdmissionPolicy")
	policyBinding = admissionv1.SchemeGroupVersion.WithKind("ValidatingAdmissionPolicyBinding")
)

// nodePolicy is the name of a node group's admission policy and binding
// (the driver charts' node-policy.yaml).
func nodePolicy(group string) string { return "topolvm-" + group + "-node." + ns + ".topolvm.io" }

// hasNodePolicy: the group's policy and its binding both exist.
func (e *env) hasNodePolicy(group string) bool {
	return e.exists(policy, "", nodePolicy(group)) && e.exists(policyBinding, "", nodePolicy(group))
}

// TestIntegrationOperator runs the reconciler against a real API server:
// a TopolvmCluster is rendered and applied (owned, labelled, under one field
// manager), drift is repaired, what the spec drops is pruned, the status
// follows the rollout and the nodes' reports, the webhook certificate is
// kept across renders, and deleting the TopolvmCluster removes everything
// but the LogicalVolume CRD.
func TestIntegrationOperator(t *testing.T) {
	e := startOperator(t, map[string]map[string]string{"n1": {"disk": "ssd"}, "n2": {"disk": "hdd"}})
	ctx, c := e.ctx, e.c
	e.create(clusterYAML)

	// Applied: the controller, a DaemonSet per node group, the CSIDriver,
	// a StorageClass per device class, the CRD, a node admission policy
	// and binding per node group.
	testutil.Eventually(t, "the suite applied", func() bool {
		return e.exists(daemonSet, ns, "topolvm-ssd-node") && e.exists(daemonSet, ns, "topolvm-hdd-node") &&
			e.exists(deployment, ns, "topolvm-controller") && e.exists(storageClass, "", "topolvm-ssd") &&
			e.exists(storageClass, "", "topolvm-hdd") && e.exists(csiDriver, "", "topolvm.io") &&
			e.hasNodePolicy("ssd") && e.hasNodePolicy("hdd")
	})
	tc := e.cluster()
	if vap, _ := e.get(policy, "", nodePolicy("ssd")); len(vap.GetOwnerReferences()) != 1 || vap.GetOwnerReferences()[0].UID != tc.UID ||
		vap.GetLabels()[apply.LabelOwner] != tc.Name {
		t.Errorf("ValidatingAdmissionPolicy owner references %+v, labels %v", vap.GetOwnerReferences(), vap.GetLabels())
	}
	ds, _ := e.get(daemonSet, ns, "topolvm-ssd-node")
	if refs := ds.GetOwnerReferences(); len(refs) != 1 || refs[0].UID != tc.UID || refs[0].Controller == nil || !*refs[0].Controller {
		t.Errorf("DaemonSet owner references: %+v", refs)
	}
	if ds.GetLabels()[apply.LabelOwner] != tc.Name {
		t.Errorf("DaemonSet labels: %v", ds.GetLabels())
	}
	managers := map[string]bool{}
	for _, m := range ds.GetManagedFields() {
		managers[m.Manager] = true
	}
	if !managers[apply.FieldManager] || len(managers) != 1 {
		t.Errorf("DaemonSet field managers: %v, want only %s", managers, apply.FieldManager)
	}
	sel, _, _ := unstructured.NestedStringMap(ds.Object, "spec", "template", "spec", "nodeSelector")
	if sel["disk"] != "ssd" {
		t.Errorf("ssd DaemonSet nodeSelector: %v", sel)
	}
	lv, _ := e.get(crd, "", "logicalvolumes.topolvm.io")
	if len(lv.GetOwnerReferences()) != 0 {
		t.Errorf("the LogicalVolume CRD must not be owned (deleting the cluster would delete every volume record): %v", lv.GetOwnerReferences())
	}

	// Status: observedGeneration and conditions. No kube-controller-manager
	// runs here, so the workloads never roll out: Progressing, not Ready.
	testutil.Eventually(t, "status for the current generation", func() bool {
		p := e.condition(v1alpha1.ConditionProgressing)
		return p != nil && p.Status == metav1.ConditionTrue && strings.Contains(p.Message, "DaemonSet topolvm-ssd-node")
	})
	if r := e.condition(v1alpha1.ConditionReady); r == nil || r.Status != metav1.ConditionFalse || r.Reason != v1alpha1.ReasonComponentsNotReady {
		t.Errorf("Ready: %+v", r)
	}
	if d := e.condition(v1alpha1.ConditionDegraded); d == nil || d.Status != metav1.ConditionFalse {
		t.Errorf("Degraded: %+v", d)
	}

	// Drift: a deleted StorageClass and admission policy come back, an
	// edited DaemonSet is put back.
	sc, _ := e.get(storageClass, "", "topolvm-hdd")
	if err := c.Delete(ctx, sc); err != nil {
		t.Fatal(err)
	}
	vap, _ := e.get(policy, "", nodePolicy("hdd"))
	if err := c.Delete(ctx, vap); err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedStringMap(ds.Object, map[string]string{"disk": "other"}, "spec", "template", "spec", "nodeSelector"); err != nil {
		t.Fatal(err)
	}
	ds.SetManagedFields(nil)
	if err := c.Update(ctx, ds); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "drift repaired", func() bool {
		d, err := e.get(daemonSet, ns, "topolvm-ssd-node")
		if err != nil {
			return false
		}
		sel, _, _ := unstructured.NestedStringMap(d.Object, "spec", "template", "spec", "nodeSelector")
		return sel["disk"] == "ssd" && e.exists(storageClass, "", "topolvm-hdd") && e.hasNodePolicy("hdd")
	})

	// Reports: a refused device makes the cluster Degraded naming it; a
	// node two groups select (labels changed at run time) too.
	err := report.Write(ctx, c, ns, report.NodeReport{Node: "n1",
		VolumeGroups: []report.VolumeGroup{{Name: "vg-ssd", Size: 1 << 30, Free: 1 << 29, Devices: []string{"/dev/loop10"},
			Refused: []report.Refusal{{Device: "/dev/loop12", Reason: "filesystem"}}}},
		Discovered: []report.Device{{Path: "/dev/loop13", Size: 1 << 30}}})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "Degraded naming the refused device", func() bool {
		d := e.condition(v1alpha1.ConditionDegraded)
		return d != nil && d.Status == metav1.ConditionTrue && d.Reason == v1alpha1.ReasonDeviceRefused && strings.Contains(d.Message, "/dev/loop12")
	})
	tc = e.cluster()
	if len(tc.Status.Nodes) != 2 || tc.Status.Nodes[0].Name != "n1" || len(tc.Status.Nodes[0].VolumeGroups) != 1 ||
		tc.Status.Nodes[0].VolumeGroups[0].Free != 1<<29 || len(tc.Status.Nodes[0].DiscoveredDevices) != 1 || tc.Status.Nodes[0].Group != "ssd" {
		t.Errorf("node status: %+v", tc.Status.Nodes)
	}
	if err := c.Delete(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: report.ConfigMapName("n1")}}); err != nil {
		t.Fatal(err)
	}
	n2 := &corev1.Node{}
	if err := c.Get(ctx, client.ObjectKey{Name: "n2"}, n2); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(n2.DeepCopy())
	e.update(func(tc *v1alpha1.TopolvmCluster) { tc.Spec.NodeGroups[1].NodeSelector = map[string]string{"zone": "a"} })
	n2.Labels = map[string]string{"disk": "ssd", "zone": "a"}
	if err := c.Patch(ctx, n2, patch); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "Degraded naming the node in two groups", func() bool {
		d := e.condition(v1alpha1.ConditionDegraded)
		return d != nil && d.Status == metav1.ConditionTrue && d.Reason == v1alpha1.ReasonNodeInTwoGroups &&
			strings.Contains(d.Message, "node n2 is selected by node groups ssd and hdd")
	})

	// Prune: drop the hdd group and the metrics Services; turn the
	// extender and the webhook on.
	e.update(func(tc *v1alpha1.TopolvmCluster) {
		tc.Spec.NodeGroups = tc.Spec.NodeGroups[:1]
		tc.Spec.Components.Metrics.Enabled = false
		tc.Spec.Components.Scheduler.Mode = v1alpha1.SchedulerExtender
		tc.Spec.Components.Webhook.Enabled = true
	})
	testutil.Eventually(t, "hdd group (its admission policy too) and metrics pruned, extender and webhook applied", func() bool {
		return !e.exists(daemonSet, ns, "topolvm-hdd-node") && !e.exists(storageClass, "", "topolvm-hdd") &&
			!e.exists(service, ns, "topolvm-controller-metrics") && e.exists(deployment, ns, "topolvm-scheduler") &&
			e.exists(secret, ns, "topolvm-webhook-cert") &&
			!e.exists(policy, "", nodePolicy("hdd")) && !e.exists(policyBinding, "", nodePolicy("hdd"))
	})
	if !e.exists(daemonSet, ns, "topolvm-ssd-node") {
		t.Errorf("the ssd group's DaemonSet was pruned too")
	}
	if !e.hasNodePolicy("ssd") {
		t.Errorf("the ssd group's admission policy or binding was pruned too")
	}
	testutil.Eventually(t, "Degraded cleared", func() bool {
		d := e.condition(v1alpha1.ConditionDegraded)
		return d != nil && d.Status == metav1.ConditionFalse
	})

	// The webhook certificate survives a re-render (Helm's lookup).
	cert, _ := e.get(secret, ns, "topolvm-webhook-cert")
	e.update(func(tc *v1alpha1.TopolvmCluster) { tc.Spec.Components.LVM.ControllerReplicas = 1 })
	testutil.Eventually(t, "re-rendered", func() bool {
		d, err := e.get(deployment, ns, "topolvm-controller")
		r, _, _ := unstructured.NestedInt64(d.Object, "spec", "replicas")
		return err == nil && r == 1
	})
	again, _ := e.get(secret, ns, "topolvm-webhook-cert")
	if a, b := cert.Object["data"], again.Object["data"]; !equalJSON(t, a, b) {
		t.Errorf("the webhook certificate changed on a re-render")
	}

	// Delete: everything goes but the LogicalVolume CRD (policy Keep).
	if err := c.Delete(ctx, e.cluster()); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "everything deleted", func() bool {
		err := c.Get(ctx, client.ObjectKey{Name: v1alpha1.ClusterName}, &v1alpha1.TopolvmCluster{})
		return apierrors.IsNotFound(err) && !e.exists(daemonSet, ns, "topolvm-ssd-node") &&
			!e.exists(deployment, ns, "topolvm-controller") && !e.exists(deployment, ns, "topolvm-scheduler") &&
			!e.exists(csiDriver, "", "topolvm.io") && !e.exists(storageClass, "", "topolvm-ssd") &&
			!e.exists(inventoryKind, ns, apply.InventoryName) &&
			!e.exists(policy, "", nodePolicy("ssd")) && !e.exists(policyBinding, "", nodePolicy("ssd"))
	})
	if !e.exists(crd, "", "logicalvolumes.topolvm.io") {
		t.Errorf("the LogicalVolume CRD was deleted with volumeDeletionPolicy Keep")
	}
}

// startOperator starts an API server with a Node per entry of nodes (with
// those labels), the operator's namespace, and the operator's manager,
// stopped when the test ends. The reconciler is added by
// controller.Register, as the command does, with a registry of the test's own.
func startOperator(t *testing.T, nodes map[string]map[string]string) *env {
	cfg, c := testutil.APIServer(t)
	ctx := testutil.Context(t)
	e := &env{t: t, ctx: ctx, c: c}

	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	for name, labels := range nodes {
		testutil.Node(t, c, name)
		n := &corev1.Node{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, n); err != nil {
			t.Fatal(err)
		}
		patch := client.MergeFrom(n.DeepCopy())
		n.Labels = labels
		if err := c.Patch(ctx, n, patch); err != nil {
			t.Fatal(err)
		}
	}
	s, err := scheme.New()
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: s, Cache: controller.CacheOptions(ns),
		Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		// Each test's manager runs the one named controller.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	err = controller.Register(mgr, ns, prometheus.NewRegistry(), logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	mgrCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mgrCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})

	return e
}

func equalJSON(t *testing.T, a, b any) bool {
	x, err := yaml.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := yaml.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(x) == string(y) && len(x) > 10
}
