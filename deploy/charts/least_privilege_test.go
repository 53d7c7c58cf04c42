package charts_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
)

// claimWrites are the rights on every namespace's claims and volumes that
// the controller may hold only for a feature turned on.
var claimWrites = []struct{ resource, verb string }{
	{"persistentvolumeclaims", "update"}, {"persistentvolumeclaims", "delete"}, {"persistentvolumeclaims", "patch"},
	{"persistentvolumeclaims/status", "update"}, {"persistentvolumes", "update"}, {"persistentvolumes", "delete"},
	{"persistentvolumes", "patch"}, {"persistentvolumes/status", "update"},
}

// controllerClaimWrites lists the claimWrites the driver's :controller
// ClusterRole grants.
func controllerClaimWrites(t *testing.T, r *rendered, driver string) []string {
	t.Helper()
	var got []string
	rules := controllerRules(t, r, driver)
	for _, w := range claimWrites {
		if grants(rules, "", w.resource, w.verb) {
			got = append(got, w.verb+" "+w.resource)
		}
	}
	return got
}

// By default topolvm-controller may neither update nor delete any claim or
// volume: fast binding (updates) and the deletion of a deleted node's
// claims are opt-in, and each brings exactly its own rights and flag.
func TestChartsControllerClaimWritesOptIn(t *testing.T) {
	t.Parallel()
	for _, c := range driverCharts {
		t.Run(c.chart, func(t *testing.T) {
			t.Parallel()
			for _, tc := range []struct {
				name   string
				values map[string]any
				args   []string
				writes []string
			}{
				{"default", nil, []string{"--fast-binding=false", "--delete-claims-of-deleted-nodes=false"}, nil},
				{"fast-binding", map[string]any{"controller": map[string]any{"fastBinding": true}},
					[]string{"--fast-binding=true", "--delete-claims-of-deleted-nodes=false"},
					[]string{"update persistentvolumeclaims", "update persistentvolumeclaims/status", "update persistentvolumes", "update persistentvolumes/status"}},
				{"delete-claims", map[string]any{"controller": map[string]any{"deleteClaimsOfDeletedNodes": true}},
					[]string{"--fast-binding=false", "--delete-claims-of-deleted-nodes=true"},
					[]string{"delete persistentvolumeclaims"}},
			} {
				r := render(t, c.chart, c.chart, c.namespace, tc.values)
				if d := cmp.Diff(tc.writes, controllerClaimWrites(t, r, c.driver)); d != "" {
					t.Errorf("%s: the controller's writes on claims and volumes (-want +got):\n%s", tc.name, d)
				}
				spec := get[appsv1.Deployment](t, r, "Deployment", c.chart+"-controller").Spec.Template.Spec
				wantArgs(t, container(t, spec, "controller"), tc.args...)
			}
		})
	}
}

// The node plugin's ClusterRole is exactly what topolvm-node and
// topols-node call: reads of LogicalVolumes and Nodes (their caches), and
// patches (the LogicalVolume finalizer, its status, the Node's capacity
// annotations); no update, create or delete.
func TestChartsNodeRoleVerbs(t *testing.T) {
	t.Parallel()
	want := []rbacv1.PolicyRule{
		{APIGroups: []string{"topolvm.io"}, Resources: []string{"logicalvolumes"}, Verbs: []string{"get", "list", "watch", "patch"}},
		{APIGroups: []string{"topolvm.io"}, Resources: []string{"logicalvolumes/status"}, Verbs: []string{"patch"}},
		{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"get", "list", "watch", "patch"}},
		{APIGroups: []string{"events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
	}
	for _, c := range driverCharts {
		r := render(t, c.chart, c.chart, c.namespace, nil)
		role := get[rbacv1.ClusterRole](t, r, "ClusterRole", c.driver+":node")
		if d := cmp.Diff(want, role.Rules); d != "" {
			t.Errorf("%s: the node ClusterRole (-want +got):\n%s", c.chart, d)
		}
	}
}

// The admission policy that confines each node plugin to its own node's
// objects ships on by default, matches only the release's node
// ServiceAccount, and goes with node.admissionPolicy.enabled=false or
// without a node plugin.
func TestChartsNodeAdmissionPolicy(t *testing.T) {
	t.Parallel()
	for _, c := range driverCharts {
		t.Run(c.chart, func(t *testing.T) {
			t.Parallel()
			r := render(t, c.chart, "rel", c.namespace, nil)
			name := "rel-" + c.chart + "-node." + c.namespace + "." + c.driver
			p := get[admissionregistrationv1.ValidatingAdmissionPolicy](t, r, "ValidatingAdmissionPolicy", name)
			b := get[admissionregistrationv1.ValidatingAdmissionPolicyBinding](t, r, "ValidatingAdmissionPolicyBinding", name)
			if sa := r.find("ServiceAccount", "rel-"+c.chart+"-node"); sa == nil || sa.GetNamespace() != c.namespace {
				t.Fatalf("no node ServiceAccount rel-%s-node in %s", c.chart, c.namespace)
			}
			wantMatch := []admissionregistrationv1.MatchCondition{{Name: "node-service-account",
				Expression: "request.userInfo.username == 'system:serviceaccount:" + c.namespace + ":rel-" + c.chart + "-node'"}}
			if d := cmp.Diff(wantMatch, p.Spec.MatchConditions); d != "" {
				t.Errorf("matchConditions (-want +got):\n%s", d)
			}
			if p.Spec.FailurePolicy == nil || *p.Spec.FailurePolicy != admissionregistrationv1.Fail {
				t.Errorf("failurePolicy %v, want Fail", p.Spec.FailurePolicy)
			}
			// Every write the node ClusterRole grants is matched.
			matched := map[string]bool{}
			for _, rule := range p.Spec.MatchConstraints.ResourceRules {
				if !slices.Contains(rule.Operations, admissionregistrationv1.Update) {
					continue
				}
				for _, res := range rule.Resources {
					for _, g := range rule.APIGroups {
						matched[g+"/"+res] = true
					}
				}
			}
			for _, rule := range get[rbacv1.ClusterRole](t, r, "ClusterRole", c.driver+":node").Rules {
				if !slices.ContainsFunc(rule.Verbs, func(v string) bool { return v != "get" && v != "list" && v != "watch" }) {
					continue
				}
				for _, res := range rule.Resources {
					// Events change no object: they are records, which any
					// component may write about what it did.
					if res == "events" {
						continue
					}
					if !matched[rule.APIGroups[0]+"/"+res] {
						t.Errorf("the node plugin may write %s, which the policy does not check", res)
					}
				}
			}
			if len(p.Spec.Validations) == 0 {
				t.Error("the policy has no validations")
			}
			if b.Spec.PolicyName != name || !slices.Equal(b.Spec.ValidationActions, []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny}) {
				t.Errorf("binding %+v, want policy %s and Deny", b.Spec, name)
			}
			for _, values := range []map[string]any{
				{"node": map[string]any{"admissionPolicy": map[string]any{"enabled": false}}},
				{"node": map[string]any{"enabled": false}},
			} {
				off := render(t, c.chart, "rel", c.namespace, values)
				if n := len(off.ofKind("ValidatingAdmissionPolicy")) + len(off.ofKind("ValidatingAdmissionPolicyBinding")); n != 0 {
					t.Errorf("%v: %d policy objects rendered", values, n)
				}
			}
		})
	}
	a, errA := os.ReadFile(filepath.Join("topolvm", "templates", "node-policy.yaml"))
	b, errB := os.ReadFile(filepath.Join("topols", "templates", "node-policy.yaml"))
	if errA != nil || errB != nil || !bytes.Equal(a, b) {
		t.Errorf("node-policy.yaml differs between the driver charts (%v, %v): they are copies of one file", errA, errB)
	}
}
