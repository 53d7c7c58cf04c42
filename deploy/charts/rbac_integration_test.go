//go:build integration

package charts_test

import (
	"context"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/toposuite/toposuite/internal/api/topolvm/v1"
	"github.com/toposuite/toposuite/internal/scheme"
	"github.com/toposuite/toposuite/internal/testutil"
)

// The chart's RBAC and node admission policy in a real API server: the
// node plugin's ServiceAccount, with the token the kubelet would mount for
// its pod on node-a, may patch node-a and node-a's LogicalVolumes (status
// and finalizer) but not node-b or node-b's volumes, nor another driver's;
// a token of the same ServiceAccount that names no node may write nothing;
// and by default the controller's ServiceAccount may not delete claims
// (deleteClaimsOfDeletedNodes turns that on) nor update volumes or the
// claims' status (fast binding's rights).
func TestIntegrationChartsNodePolicyAndClaimRights(t *testing.T) {
	cfg, admin := testutil.APIServer(t)
	ctx := t.Context()
	const ns, driver = "topolvm-system", "topolvm.io"
	nodeSA, controllerSA := "topolvm-node", "topolvm-controller"
	create(t, admin, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	applyAccess(t, admin, render(t, "topolvm", "topolvm", ns, nil))

	for _, n := range []string{"node-a", "node-b"} {
		create(t, admin, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n}})
	}
	for name, on := range map[string][2]string{"lv-a": {"node-a", driver}, "lv-b": {"node-b", driver}, "lv-a-topols": {"node-a", "topols.io"}} {
		create(t, admin, &v1.LogicalVolume{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: v1.LogicalVolumeSpec{Name: name, NodeName: on[0], DriverName: on[1], Size: resource.MustParse("1Gi")}})
	}
	// The node plugin's pod on node-a (no kubelet runs it: only its
	// binding to the node matters to the token).
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "topolvm-node-a"}, Spec: corev1.PodSpec{
		NodeName: "node-a", ServiceAccountName: nodeSA, Containers: []corev1.Container{{Name: "node", Image: "toposuite/topolvm-node"}}}}
	create(t, admin, pod)

	cs := kubernetes.NewForConfigOrDie(cfg)
	onA := tokenClient(t, cfg, cs, ns, nodeSA, &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID})
	noNode := tokenClient(t, cfg, cs, ns, nodeSA, nil)

	patchNode := func(c client.Client, name string) error {
		return c.Patch(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}},
			client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"annotations":{"capacity.topolvm.io/00default":"1"}}}`)))
	}
	patchStatus := func(c client.Client, name string) error {
		return c.Status().Patch(ctx, &v1.LogicalVolume{ObjectMeta: metav1.ObjectMeta{Name: name}},
			client.RawPatch(types.MergePatchType, []byte(`{"status":{"volumeID":"`+name+`"}}`)))
	}
	patchFinalizer := func(c client.Client, name string) error {
		return c.Patch(ctx, &v1.LogicalVolume{ObjectMeta: metav1.ObjectMeta{Name: name}},
			client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":["`+v1.Finalizer(driver)+`"]}}`)))
	}

	// The API server loads policies and RBAC rules in the background: wait
	// until the ServiceAccount may write its own Node and the policy
	// refuses the other one. (A policy expression that fails to evaluate
	// refuses every write, its own node's too: failurePolicy Fail.)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		errA, errB := patchNode(onA, "node-a"), patchNode(onA, "node-b")
		if errA == nil && byPolicy(errB, "may not change Node node-b") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s, the node plugin on node-a patching node-a: %v; patching node-b: %v (want refused by the node admission policy)", errA, errB)
		}
	}

	allowed := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v", what, err)
		}
	}
	denied := func(what string, err error, why string) {
		t.Helper()
		if !byPolicy(err, why) {
			t.Errorf("%s: %v, want a refusal by the node admission policy saying %q", what, err, why)
		}
	}
	allowed("patch its own Node", patchNode(onA, "node-a"))
	denied("patch another Node", patchNode(onA, "node-b"), "may not change Node node-b")
	allowed("patch the status of its own node's LogicalVolume", patchStatus(onA, "lv-a"))
	denied("patch the status of another node's LogicalVolume", patchStatus(onA, "lv-b"), "may not change LogicalVolume lv-b of node node-b")
	allowed("add its finalizer to its own node's LogicalVolume", patchFinalizer(onA, "lv-a"))
	denied("add a finalizer to another node's LogicalVolume", patchFinalizer(onA, "lv-b"), "may not change LogicalVolume lv-b of node node-b")
	denied("patch the status of another driver's LogicalVolume on its node", patchStatus(onA, "lv-a-topols"), "and driver topols.io")
	denied("patch a Node with a token naming no node", patchNode(noNode, "node-a"), "token names no node")
	denied("patch a LogicalVolume's status with a token naming no node", patchStatus(noNode, "lv-a"), "token names no node")

	// What RBAC itself grants the two ServiceAccounts.
	can := func(sa, verb, group, res, sub, namespace string) bool {
		t.Helper()
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:               "system:serviceaccount:" + ns + ":" + sa,
			Groups:             []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: verb, Group: group, Resource: res, Subresource: sub, Namespace: namespace},
		}}
		got, err := cs.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return got.Status.Allowed
	}
	for _, a := range []struct{ verb, group, res, sub string }{
		{"update", "", "nodes", ""}, {"delete", "", "nodes", ""}, {"update", "topolvm.io", "logicalvolumes", ""},
		{"create", "topolvm.io", "logicalvolumes", ""}, {"delete", "topolvm.io", "logicalvolumes", ""},
		{"update", "topolvm.io", "logicalvolumes", "status"}, {"get", "topolvm.io", "logicalvolumes", "status"},
	} {
		if can(nodeSA, a.verb, a.group, a.res, a.sub, "") {
			t.Errorf("the node ServiceAccount may %s %s %s", a.verb, a.res, a.sub)
		}
	}
	// The controller pod's ServiceAccount also carries csi-provisioner's
	// own rights (claims update, volumes delete), which it needs whatever
	// the features; what topolvm-controller alone would add is checked.
	for _, a := range []struct{ verb, res, sub string }{
		{"delete", "persistentvolumeclaims", ""}, {"update", "persistentvolumeclaims", "status"},
		{"update", "persistentvolumes", ""}, {"update", "persistentvolumes", "status"},
	} {
		if can(controllerSA, a.verb, "", a.res, a.sub, "default") {
			t.Errorf("by default, the controller ServiceAccount may %s %s %s", a.verb, a.res, a.sub)
		}
	}

	// With deleteClaimsOfDeletedNodes, the controller gets claim deletion.
	optIn := render(t, "topolvm", "topolvm", ns, map[string]any{"controller": map[string]any{"deleteClaimsOfDeletedNodes": true}})
	role := optIn.find("ClusterRole", driver+":controller")
	var cur rbacv1.ClusterRole
	if err := admin.Get(ctx, client.ObjectKeyFromObject(role), &cur); err != nil {
		t.Fatal(err)
	}
	role.SetResourceVersion(cur.ResourceVersion)
	if err := admin.Update(ctx, role); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the controller ServiceAccount may delete claims with deleteClaimsOfDeletedNodes", func() bool {
		return can(controllerSA, "delete", "", "persistentvolumeclaims", "", "default")
	})
}

// byPolicy: the request was refused by a ValidatingAdmissionPolicy (not
// by RBAC, which refuses with 403 too) with a message saying why (not an
// expression that failed to evaluate, which refuses too).
func byPolicy(err error, why string) bool {
	return err != nil && strings.Contains(err.Error(), "ValidatingAdmissionPolicy") && strings.Contains(err.Error(), why)
}

func create(t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	if err := c.Create(t.Context(), obj); err != nil {
		t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
	}
}

// applyAccess creates what a release's API access is made of: its
// ServiceAccounts, RBAC and admission policies.
func applyAccess(t *testing.T, c client.Client, r *rendered) {
	t.Helper()
	for _, kind := range []string{"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding",
		"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"} {
		for _, o := range r.ofKind(kind) {
			create(t, c, o)
		}
	}
}

// tokenClient is a client with a token of the ServiceAccount, bound to the
// object when one is given, as the kubelet requests it for a pod.
func tokenClient(t *testing.T, cfg *rest.Config, cs kubernetes.Interface, ns, sa string, bound *authenticationv1.BoundObjectReference) client.Client {
	t.Helper()
	ctx := context.Background()
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{BoundObjectRef: bound}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token of %s/%s: %v", ns, sa, err)
	}
	tc := rest.AnonymousClientConfig(cfg)
	tc.BearerToken = tr.Status.Token
	s, err := scheme.New()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(tc, client.Options{Scheme: s})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
