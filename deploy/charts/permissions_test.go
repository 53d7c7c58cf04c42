package charts_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The reviewed list of what each ServiceAccount the charts create may do
// (testdata/permissions.yaml), as the API server answers it: the integration
// test TestIntegrationChartsPermissionsAllowlist compares the two.

// permissionsFile is the reviewed allowlist.
var permissionsFile = filepath.Join("testdata", "permissions.yaml")

// allowlist: for each ServiceAccount ("namespace/name"), per values set
// ("default", then the options that grant more), the grants; an option's
// list holds only what it adds to the default.
type allowlist map[string]map[string][]grant

// grant is one line of the allowlist: "<scope> <group>/<resource> <verbs>"
// (scope "cluster" or "namespace", group "core" for the core group, verbs
// comma-separated and sorted; "url <path> <verbs>" for non-resource URLs),
// with the reason it is needed.
type grant struct {
	Grant string `json:"grant"`
	Why   string `json:"why"`
}

// valueSets are the values the permissions are reviewed for: the defaults,
// and each option that grants the controller more.
type valueSet struct {
	name   string
	values map[string]any
}

var valueSets = []valueSet{
	{"default", nil},
	{"fastBinding", map[string]any{"controller": map[string]any{"fastBinding": true}}},
	{"deleteClaimsOfDeletedNodes", map[string]any{"controller": map[string]any{"deleteClaimsOfDeletedNodes": true}}},
	{"webhook", map[string]any{"webhook": map[string]any{"enabled": true}}},
}

func readAllowlist(t testing.TB) allowlist {
	t.Helper()
	b, err := os.ReadFile(permissionsFile)
	if err != nil {
		t.Fatal(err)
	}
	var a allowlist
	if err := yaml.UnmarshalStrict(b, &a); err != nil {
		t.Fatalf("%s: %v", permissionsFile, err)
	}
	return a
}

// permissionsTable renders the allowlist as the Markdown table docs/helm.md
// carries: per ServiceAccount and values set, its grants and why.
func permissionsTable(a allowlist) string {
	var b strings.Builder
	b.WriteString("| ServiceAccount | With | Scope | Resource | Verbs | Why |\n|---|---|---|---|---|---|\n")
	sas := make([]string, 0, len(a))
	for sa := range a {
		sas = append(sas, sa)
	}
	sort.Strings(sas)
	for _, sa := range sas {
		for _, vs := range valueSets {
			gs := a[sa][vs.name]
			if vs.name == "default" && len(gs) == 0 {
				fmt.Fprintf(&b, "| %s | default | | (none) | | |\n", sa)
			}
			for _, g := range gs {
				f := strings.Fields(g.Grant)
				fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", sa, vs.name, f[0], f[1], strings.ReplaceAll(f[2], ",", ", "), g.Why)
			}
		}
	}
	return b.String()
}

// Every grant of the allowlist is well formed and says why it is needed,
// and docs/helm.md carries the allowlist's table between its markers.
func TestChartsPermissionsAllowlistDocumented(t *testing.T) {
	t.Parallel()
	a := readAllowlist(t)
	for sa, sets := range a {
		for set, gs := range sets {
			if !slices.ContainsFunc(valueSets, func(v valueSet) bool { return v.name == set }) {
				t.Errorf("%s: unknown values set %q", sa, set)
			}
			for _, g := range gs {
				f := strings.Fields(g.Grant)
				if len(f) != 3 || (f[0] != "cluster" && f[0] != "namespace" && f[0] != "url") {
					t.Errorf("%s %s: grant %q is not \"<cluster|namespace|url> <what> <verbs>\"", sa, set, g.Grant)
				}
				if strings.TrimSpace(g.Why) == "" {
					t.Errorf("%s %s: grant %q says not why it is needed", sa, set, g.Grant)
				}
			}
		}
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "helm.md"))
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- permissions: begin -->\n", "<!-- permissions: end -->"
	s := string(doc)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("docs/helm.md has no %q ... %q section", strings.TrimSpace(begin), end)
	}
	if got, want := s[i+len(begin):j], permissionsTable(a); got != want {
		t.Errorf("docs/helm.md's permissions table is not the allowlist's; put this between the markers:\n%s", want)
	}
}
