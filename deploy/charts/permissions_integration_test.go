//go:build integration

package charts_test

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/toposuite/toposuite/internal/testutil"
)

// elsewhere is a namespace no chart puts anything in: what a ServiceAccount
// may do there, it may do in every namespace (or cluster-wide).
const elsewhere = "elsewhere"

// Every ServiceAccount of every chart, installed in a real API server with
// the default values and with each option that grants more, may do exactly
// what testdata/permissions.yaml lists, as the API server itself answers
// (a SelfSubjectRulesReview made as the ServiceAccount, less what every
// authenticated user may do). A right the charts add or drop fails here
// until the list, and its reason, are reviewed.
func TestIntegrationChartsPermissionsAllowlist(t *testing.T) {
	want := readAllowlist(t)
	got := map[string]map[string]map[string]bool{} // account -> values set -> atoms
	for _, vs := range valueSets {
		for sa, a := range grantedBy(t, vs.values) {
			if got[sa] == nil {
				got[sa] = map[string]map[string]bool{}
			}
			got[sa][vs.name] = a
		}
	}
	for _, sa := range slices.Sorted(maps.Keys(got)) {
		def := got[sa]["default"]
		counts := []string{fmt.Sprintf("default %d", len(def))}
		for _, vs := range valueSets {
			a := got[sa][vs.name]
			var gotLines []string
			if vs.name == "default" {
				gotLines = lines(a)
			} else {
				added, dropped := map[string]bool{}, map[string]bool{}
				for x := range a {
					if !def[x] {
						added[x] = true
					}
				}
				for x := range def {
					if !a[x] {
						dropped[x] = true
					}
				}
				if len(dropped) != 0 {
					t.Errorf("%s: %s takes rights away: %v", sa, vs.name, lines(dropped))
				}
				gotLines = lines(added)
				if len(added) != 0 {
					counts = append(counts, fmt.Sprintf("%s +%d", vs.name, len(added)))
				}
			}
			if extra, missing := setDiff(gotLines, atomLines(grantLines(want[sa][vs.name]))); extra != "" || missing != "" {
				t.Errorf("%s with %s: the API server's answer differs from %s\ngranted, not listed (review, then add with a why):\n%slisted, not granted (remove):\n%s",
					sa, vs.name, permissionsFile, extra, missing)
			}
		}
		t.Logf("%s: %s permissions", sa, strings.Join(counts, ", "))
	}
	for sa := range want {
		if got[sa] == nil {
			t.Errorf("%s lists %s, which no chart creates", permissionsFile, sa)
		}
	}
}

// atomLines normalises grant lines (verbs sorted, one line per resource).
func atomLines(ls []string) []string { return lines(atoms(ls)) }

// grantedBy installs every chart's ServiceAccounts and RBAC, with values
// for the driver charts, in a new API server, and returns what each
// ServiceAccount may do beyond what any authenticated user may.
func grantedBy(t *testing.T, values map[string]any) map[string]map[string]bool {
	cfg, admin := testutil.APIServer(t)
	cs := kubernetes.NewForConfigOrDie(cfg)
	create(t, admin, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: elsewhere}})
	var accounts []string
	var bindings []*rendered
	for _, rel := range chartReleases {
		v := values
		if rel.chart != "topolvm" && rel.chart != "topols" {
			v = nil
		}
		if admin.Get(t.Context(), client.ObjectKey{Name: rel.namespace}, &corev1.Namespace{}) != nil {
			create(t, admin, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: rel.namespace}})
		}
		r := render(t, rel.chart, rel.chart, rel.namespace, v)
		applyAccess(t, admin, r)
		for _, sa := range r.ofKind("ServiceAccount") {
			accounts = append(accounts, sa.GetNamespace()+"/"+sa.GetName())
		}
		bindings = append(bindings, r)
	}
	for _, r := range bindings {
		waitBindings(t, cs, r)
	}
	nobody := rules(t, cfg, "nobody", elsewhere)
	out := map[string]map[string]bool{}
	for _, acc := range accounts {
		ns, _, _ := strings.Cut(acc, "/")
		everywhere := rules(t, cfg, acc, elsewhere)
		own := rules(t, cfg, acc, ns)
		a := map[string]bool{}
		for x := range everywhere {
			if !nobody[x] {
				a[scoped("cluster", x)] = true
			}
		}
		for x := range own {
			if !everywhere[x] && !nobody[x] {
				a[scoped("namespace", x)] = true
			}
		}
		out[acc] = a
	}
	return out
}

// scoped puts the scope in front of a resource atom; URL atoms keep theirs.
func scoped(scope, atom string) string {
	if strings.HasPrefix(atom, "url ") {
		return atom
	}
	return scope + " " + atom
}

// rules asks the API server, as the ServiceAccount account ("ns/name"; a
// bare name is one with no binding at all), what it may do in namespace:
// "<group>/<resource> <verb>" and "url <path> <verb>" atoms.
func rules(t *testing.T, cfg *rest.Config, account, namespace string) map[string]bool {
	t.Helper()
	ns, name, ok := strings.Cut(account, "/")
	if !ok {
		ns, name = elsewhere, account
	}
	as := rest.CopyConfig(cfg)
	as.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:" + ns + ":" + name,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"}}
	review, err := kubernetes.NewForConfigOrDie(as).AuthorizationV1().SelfSubjectRulesReviews().Create(t.Context(),
		&authorizationv1.SelfSubjectRulesReview{Spec: authorizationv1.SelfSubjectRulesReviewSpec{Namespace: namespace}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("rules review of %s in %s: %v", account, namespace, err)
	}
	if review.Status.Incomplete {
		t.Fatalf("rules review of %s in %s is incomplete: %s", account, namespace, review.Status.EvaluationError)
	}
	out := map[string]bool{}
	for _, r := range review.Status.ResourceRules {
		names := ""
		if len(r.ResourceNames) != 0 {
			names = "[" + strings.Join(slices.Sorted(slices.Values(r.ResourceNames)), "|") + "]"
		}
		for _, g := range r.APIGroups {
			if g == "" {
				g = "core"
			}
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					out[g+"/"+res+names+" "+v] = true
				}
			}
		}
	}
	for _, r := range review.Status.NonResourceRules {
		for _, u := range r.NonResourceURLs {
			for _, v := range r.Verbs {
				out["url "+u+" "+v] = true
			}
		}
	}
	return out
}

// waitBindings waits until the API server's authorizer has every binding
// of r in effect: the bound ServiceAccount may use the first rule of its
// role (RBAC objects reach the authorizer through a cache, after the
// write).
func waitBindings(t *testing.T, cs kubernetes.Interface, r *rendered) {
	t.Helper()
	roles := map[string][]rbacv1.PolicyRule{}
	for _, kind := range []string{"ClusterRole", "Role"} {
		for _, o := range r.ofKind(kind) {
			roles[kind+"/"+o.GetNamespace()+"/"+o.GetName()] = convert[rbacv1.ClusterRole](t, o).Rules
		}
	}
	for _, kind := range []string{"ClusterRoleBinding", "RoleBinding"} {
		for _, o := range r.ofKind(kind) {
			b := convert[rbacv1.RoleBinding](t, o)
			ns := ""
			if b.RoleRef.Kind == "Role" {
				ns = b.Namespace
			}
			rs := roles[b.RoleRef.Kind+"/"+ns+"/"+b.RoleRef.Name]
			if len(rs) == 0 || len(b.Subjects) == 0 {
				continue
			}
			rule, s := rs[0], b.Subjects[0]
			attrs := &authorizationv1.ResourceAttributes{Namespace: b.Namespace, Verb: rule.Verbs[0], Group: rule.APIGroups[0], Resource: rule.Resources[0]}
			testutil.Eventually(t, fmt.Sprintf("%s %s in effect", kind, b.Name), func() bool {
				sar, err := cs.AuthorizationV1().SubjectAccessReviews().Create(t.Context(), &authorizationv1.SubjectAccessReview{
					Spec: authorizationv1.SubjectAccessReviewSpec{User: "system:serviceaccount:" + s.Namespace + ":" + s.Name, ResourceAttributes: attrs}},
					metav1.CreateOptions{})
				return err == nil && sar.Status.Allowed
			})
		}
	}
}

// setDiff returns, as allowlist entries, the lines of a not in b and of b
// not in a.
func setDiff(a, b []string) (string, string) {
	entries := func(x, y []string) string {
		var s strings.Builder
		for _, l := range x {
			if !slices.Contains(y, l) {
				fmt.Fprintf(&s, "      - grant: %s\n        why: \n", l)
			}
		}
		return s.String()
	}
	return entries(a, b), entries(b, a)
}

// chartReleases are the releases whose ServiceAccounts are reviewed.
var chartReleases = []struct{ chart, namespace string }{
	{"topolvm", "topolvm-system"},
	{"topols", "topols-system"},
	{"topolvm-scheduler", "topolvm-system"},
	{"lvmd", "lvmd-system"},
	{"topolvm-operator", "toposuite-system"},
}

// atoms splits grant lines into single permissions ("<scope> <what> <verb>").
func atoms(lines []string) map[string]bool {
	out := map[string]bool{}
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) != 3 {
			continue
		}
		for _, v := range strings.Split(f[2], ",") {
			out[f[0]+" "+f[1]+" "+v] = true
		}
	}
	return out
}

// lines groups single permissions back into grant lines, sorted.
func lines(atoms map[string]bool) []string {
	verbs := map[string][]string{}
	for a := range atoms {
		f := strings.Fields(a)
		k := f[0] + " " + f[1]
		verbs[k] = append(verbs[k], f[2])
	}
	var out []string
	for k, v := range verbs {
		sort.Strings(v)
		out = append(out, k+" "+strings.Join(v, ","))
	}
	sort.Strings(out)
	return out
}

func grantLines(gs []grant) []string {
	var out []string
	for _, g := range gs {
		out = append(out, g.Grant)
	}
	return out
}
