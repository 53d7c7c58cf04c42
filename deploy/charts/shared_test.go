package charts_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
)

// charts are the chart directories, each installable on its own.
var charts = []string{"topolvm", "topols", "lvmd", "topolvm-scheduler", "topolvm-operator"}

func TestChartsLint(t *testing.T) {
	for _, chart := range charts {
		t.Run(chart, func(t *testing.T) {
			t.Parallel()
			out, err := helm(t, "lint", "--strict", chart)
			if err != nil {
				t.Fatalf("helm lint --strict %s: %v\n%s", chart, err, out)
			}
			for _, line := range strings.Split(out, "\n") {
				if strings.HasPrefix(line, "[WARNING]") || strings.HasPrefix(line, "[ERROR]") {
					t.Errorf("helm lint %s: %s", chart, line)
				}
			}
		})
	}
	// The other modes lint clean too.
	for name, c := range map[string]struct {
		chart string
		set   []string
	}{
		"topolvm-daemonset-sidecar":  {"topolvm", []string{"lvmd.mode=daemonset", "node.registration=sidecar", "lvmd.prepare.enabled=true"}},
		"topolvm-external":           {"topolvm", []string{"lvmd.mode=external", "controller.snapshotter.enabled=false"}},
		"topols-prepare":             {"topols", []string{"btrfsd.prepare.enabled=true", "node.registration=sidecar"}},
		"topolvm-webhook":            {"topolvm", []string{"webhook.enabled=true"}},
		"topols-webhook-certmanager": {"topols", []string{"webhook.enabled=true", "webhook.certManager.enabled=true"}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			args := []string{"lint", "--strict", c.chart}
			for _, s := range c.set {
				args = append(args, "--set", s)
			}
			if out, err := helm(t, args...); err != nil || strings.Contains(out, "[WARNING]") {
				t.Fatalf("helm %v: %v\n%s", args, err, out)
			}
		})
	}
}

// Files that must not drift apart: the charts share templates by keeping
// identical copies (a chart's templates cannot include another chart's
// without a packaged dependency).
func TestChartsSharedFilesIdentical(t *testing.T) {
	groups := [][]string{
		{"topolvm/templates/_helpers.tpl", "topols/templates/_helpers.tpl", "lvmd/templates/_helpers.tpl", "topolvm-scheduler/templates/_helpers.tpl"},
		{"topolvm/templates/_lvmd.tpl", "lvmd/templates/_lvmd.tpl"},
		{"topolvm/crds/topolvm.io_logicalvolumes.yaml", "topols/crds/topolvm.io_logicalvolumes.yaml"},
		{"topolvm/.helmignore", "topols/.helmignore", "lvmd/.helmignore", "topolvm-scheduler/.helmignore"},
	}
	for _, f := range []string{"controller.yaml", "controller-rbac.yaml", "node.yaml", "node-rbac.yaml", "csidriver.yaml", "storageclasses.yaml", "metrics.yaml", "webhook.yaml"} {
		groups = append(groups, []string{"topolvm/templates/" + f, "topols/templates/" + f})
	}
	for _, g := range groups {
		first, err := os.ReadFile(g[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, other := range g[1:] {
			data, err := os.ReadFile(other)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(first, data) {
				t.Errorf("%s differs from %s: they are copies of one file\n%s", other, g[0], cmp.Diff(string(first), string(data)))
			}
		}
	}
	// Every template of the driver charts is shared but the backend's.
	for _, chart := range []string{"topolvm", "topols"} {
		entries, err := os.ReadDir(filepath.Join(chart, "templates"))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			switch e.Name() {
			case "_storage.tpl", "lvmd.yaml", "_lvmd.tpl", "btrfsd.yaml", "NOTES.txt", "_helpers.tpl":
				continue
			}
			if _, err := os.Stat(filepath.Join("topolvm", "templates", e.Name())); err != nil {
				t.Errorf("%s/templates/%s has no copy in topolvm", chart, e.Name())
			}
			if _, err := os.Stat(filepath.Join("topols", "templates", e.Name())); err != nil {
				t.Errorf("%s/templates/%s has no copy in topols", chart, e.Name())
			}
		}
	}
}

// The two driver charts accept the same values for what they share.
func TestChartsSchemasAgree(t *testing.T) {
	load := func(chart string) map[string]any {
		data, err := os.ReadFile(filepath.Join(chart, "values.schema.json"))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("%s/values.schema.json: %v", chart, err)
		}
		return m
	}
	lvm, ls, lvmd := load("topolvm"), load("topols"), load("lvmd")
	props := func(m map[string]any) map[string]any { return m["properties"].(map[string]any) }
	defs := func(m map[string]any) map[string]any { return m["definitions"].(map[string]any) }
	for _, key := range []string{"driverName", "imagePullPolicy", "imagePullSecrets", "logFormat", "logLevel", "controller", "node", "csiDriver", "metrics", "webhook"} {
		if diff := cmp.Diff(props(lvm)[key], props(ls)[key]); diff != "" {
			t.Errorf("schema of %s differs between topolvm and topols:\n%s", key, diff)
		}
	}
	for key, d := range defs(lvm) {
		if o, ok := defs(ls)[key]; ok {
			if diff := cmp.Diff(d, o); diff != "" {
				t.Errorf("definition %s differs between topolvm and topols:\n%s", key, diff)
			}
		}
	}
	if diff := cmp.Diff(defs(lvm)["lvmdConfig"], defs(lvmd)["lvmdConfig"]); diff != "" {
		t.Errorf("lvmd's config schema differs between topolvm and lvmd:\n%s", diff)
	}
	lvmdValues := props(props(lvm)["lvmd"].(map[string]any))
	for key, s := range props(lvmd) {
		if o, ok := lvmdValues[key]; ok {
			if diff := cmp.Diff(o, s); diff != "" {
				t.Errorf("lvmd value %s: schema differs between topolvm's lvmd and the lvmd chart:\n%s", key, diff)
			}
		}
	}
}

// Both drivers (with their pod webhooks), lvmd and the scheduler installed
// side by side, each in its own namespace: no two objects of the same kind
// share a name where they would meet (cluster scope, or one namespace), and
// the CRD comes once from Helm's crds/ directory, identical in both driver
// charts.
func TestChartsSideBySide(t *testing.T) {
	type install struct {
		chart, release, namespace string
		values                    map[string]any
	}
	// The driver charts with their pod webhooks on, as with the extender.
	webhook := map[string]any{"webhook": map[string]any{"enabled": true}}
	installs := []install{
		{"topolvm", "topolvm", "topolvm-system", webhook},
		{"topols", "topols", "topols-system", webhook},
		{"lvmd", "lvmd", "lvmd-system", nil},
		{"topolvm-scheduler", "topolvm-scheduler", "topolvm-system", nil},
	}
	seen := map[string]string{}
	for _, in := range installs {
		r := render(t, in.chart, in.release, in.namespace, in.values)
		for _, o := range r.objs {
			key := o.GetKind() + " " + o.GetName()
			if !clusterScoped[o.GetKind()] {
				key = o.GetNamespace() + "/" + key
			}
			if prev, ok := seen[key]; ok {
				t.Errorf("%s is rendered by both %s and %s", key, prev, in.chart)
			}
			seen[key] = in.chart
		}
	}
	// On the host, the node plugins share only the kubelet's directory and /dev.
	lvm := render(t, "topolvm", "topolvm", "topolvm-system", nil)
	ls := render(t, "topols", "topols", "topols-system", nil)
	hostPaths := func(r *rendered, name string) map[string]bool {
		spec := get[appsv1.DaemonSet](t, r, "DaemonSet", name).Spec.Template.Spec
		paths := map[string]bool{}
		for _, v := range spec.Volumes {
			if v.HostPath != nil && v.HostPath.Path != "/dev" && v.HostPath.Path != "/var/lib/kubelet" {
				paths[v.HostPath.Path] = true
			}
		}
		for _, a := range container(t, spec, "node").Args {
			if p, ok := strings.CutPrefix(a, "--csi-socket="); ok {
				paths[p] = true
			}
		}
		return paths
	}
	lvmPaths := hostPaths(lvm, "topolvm-node")
	for p := range hostPaths(ls, "topols-node") {
		if lvmPaths[p] {
			t.Errorf("both node plugins use %s on the host", p)
		}
	}
	for _, o := range append(lvm.ofKind("CustomResourceDefinition"), ls.ofKind("CustomResourceDefinition")...) {
		t.Errorf("CRD %s rendered as a template: it belongs in crds/", o.GetName())
	}
	for _, chart := range []string{"topolvm", "topols"} {
		out, err := helm(t, "show", "crds", chart)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "name: logicalvolumes.topolvm.io") || strings.Count(out, "kind: CustomResourceDefinition") != 1 {
			t.Errorf("%s ships no or several CRDs:\n%.400s", chart, out)
		}
	}
}
