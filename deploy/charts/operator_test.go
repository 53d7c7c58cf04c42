package charts_test

import (
	"os"
	"path/filepath"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	operator "github.com/toposuite/toposuite/cmd/topolvm-operator/app"
	embedded "github.com/toposuite/toposuite/deploy/charts"
	"github.com/toposuite/toposuite/internal/api/operator/v1alpha1"
	"github.com/toposuite/toposuite/internal/operator/monitoring"
	oprender "github.com/toposuite/toposuite/internal/operator/render"
)

// TestOperatorChart: the operator's Deployment passes flags its command
// knows, and its RBAC grants server-side apply and delete on every kind the
// operator renders for a spec with every component on (cluster-scoped
// kinds by ClusterRole, namespaced ones by the Role of the release
// namespace only), the PrometheusRule the reconciler adds included, and
// nothing namespaced cluster-wide.
func TestOperatorChart(t *testing.T) {
	r := render(t, "topolvm-operator", "topolvm-operator", "toposuite-system", nil)
	d := get[appsv1.Deployment](t, r, "Deployment", "topolvm-operator")
	c := d.Spec.Template.Spec.Containers[0]
	checkCobraFlags(t, "topolvm-operator", operator.NewCommand(), c.Args)

	cr := get[rbacv1.ClusterRole](t, r, "ClusterRole", "topolvm-operator")
	role := get[rbacv1.Role](t, r, "Role", "topolvm-operator")

	var tc v1alpha1.TopolvmCluster
	b, err := os.ReadFile(filepath.Join("..", "..", "internal", "operator", "render", "testdata", "cluster.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, &tc); err != nil {
		t.Fatal(err)
	}
	tc.Spec.Components.Webhook.Enabled = true
	rd, err := oprender.New(embedded.FS, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := rd.Cluster(&tc.Spec, "toposuite-system")
	if err != nil {
		t.Fatal(err)
	}
	// The reconciler adds the PrometheusRule (metrics on) to what it renders.
	tc.Spec.Components.Metrics.Enabled = true
	rule, err := monitoring.ClusterRule(&tc.Spec, "toposuite-system")
	if err != nil {
		t.Fatal(err)
	}
	objs = append(objs, rule)
	// Kinds the operator applies but does not watch: no list or watch.
	unwatched := map[string]bool{"prometheusrules": true}
	seen := map[string]bool{}
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		// apimachinery's plural of a kind (y -> ies, s -> ses: storageclasses,
		// validatingadmissionpolicies), right for every kind the charts
		// render; a kind with an irregular plural would need discovery.
		plural, _ := meta.UnsafeGuessKindToResource(gvk)
		resource := plural.Resource
		if seen[resource] {
			continue
		}
		seen[resource] = true
		rules := cr.Rules
		if o.GetNamespace() != "" {
			rules = role.Rules
			if allows(cr.Rules, gvk.Group, resource, "patch") {
				t.Errorf("the ClusterRole grants %s cluster-wide; the Role of the namespace is enough", resource)
			}
		}
		for _, verb := range []string{"get", "list", "watch", "create", "patch", "delete"} {
			watch := verb == "list" || verb == "watch"
			switch ok := allows(rules, gvk.Group, resource, verb); {
			case !ok && !(watch && unwatched[resource]):
				t.Errorf("the operator may not %s %s.%s (%s)", verb, resource, gvk.Group, scope(o))
			case ok && watch && unwatched[resource]:
				t.Errorf("the operator may %s %s.%s, which it never does", verb, resource, gvk.Group)
			}
		}
	}
}

func scope(o *unstructured.Unstructured) string {
	if o.GetNamespace() == "" {
		return "cluster-scoped"
	}
	return "namespaced"
}

func allows(rules []rbacv1.PolicyRule, group, resource, verb string) bool {
	has := func(list []string, x string) bool {
		for _, s := range list {
			if s == x || s == "*" {
				return true
			}
		}
		return false
	}
	for _, r := range rules {
		if has(r.APIGroups, group) && has(r.Resources, resource) && has(r.Verbs, verb) {
			return true
		}
	}
	return false
}
