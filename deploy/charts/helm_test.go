// Package charts_test checks the Helm charts in this directory: helm lint,
// helm template with default and other values, assertions on the rendered
// objects, and the values schemas. The helm binary comes from $HELM or the
// e2e tools cache (make tools-e2e); without it the tests skip, unless
// TOPOSUITE_REQUIRE_ENVTEST is set (make test), where they fail.
package charts_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/toposuite/toposuite/internal/exec"
)

// toolsBin is where make tools-e2e puts helm and the CSI sidecars.
func toolsBin() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".cache", "toposuite", "tools", "bin")
}

// helmPath returns the helm binary, or skips (fails under make test) without it.
func helmPath(t testing.TB) string {
	t.Helper()
	path := os.Getenv("HELM")
	if path == "" {
		path = filepath.Join(toolsBin(), "helm")
	}
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("TOPOSUITE_REQUIRE_ENVTEST") != "" {
			t.Fatalf("helm not found at %s: run make tools-e2e or set $HELM", path)
		}
		t.Skipf("helm not found at %s: run make tools-e2e (or make test), or set $HELM", path)
	}
	return path
}

// run runs a command through the suite's runner; the error carries stderr.
func run(name string, args ...string) (exec.Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return exec.NewLocal(exec.Options{}).Run(ctx, name, args...)
}

// helm runs helm and returns stdout and stderr together with the error.
func helm(t testing.TB, args ...string) (string, error) {
	t.Helper()
	res, err := run(helmPath(t), args...)
	out := string(res.Stdout) + string(res.Stderr)
	return out, err
}

// valuesFile writes values to a file for helm's -f.
func valuesFile(t testing.TB, values map[string]any) string {
	t.Helper()
	data, err := yaml.Marshal(values)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// rendered is the output of helm template, decoded.
type rendered struct {
	objs []*unstructured.Unstructured
}

var docSeparator = regexp.MustCompile(`(?m)^---\s*$`)

// templateErr runs helm template for chart (a directory here) with values.
func templateErr(t testing.TB, chart, release, namespace string, values map[string]any, extra ...string) (*rendered, error) {
	t.Helper()
	args := []string{"template", release, chart, "--namespace", namespace}
	if values != nil {
		args = append(args, "-f", valuesFile(t, values))
	}
	res, err := run(helmPath(t), append(args, extra...)...)
	if err != nil {
		return nil, err
	}
	r := &rendered{}
	for _, doc := range docSeparator.Split(string(res.Stdout), -1) {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatalf("%s: rendered YAML does not parse: %v\n%s", chart, err, doc)
		}
		if len(m) == 0 {
			continue
		}
		r.objs = append(r.objs, &unstructured.Unstructured{Object: m})
	}
	return r, nil
}

// render is templateErr that fails the test on error.
func render(t testing.TB, chart, release, namespace string, values map[string]any, extra ...string) *rendered {
	t.Helper()
	r, err := templateErr(t, chart, release, namespace, values, extra...)
	if err != nil {
		t.Fatalf("helm template %s: %v", chart, err)
	}
	return r
}

func (r *rendered) find(kind, name string) *unstructured.Unstructured {
	for _, o := range r.objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

func (r *rendered) ofKind(kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range r.objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// get returns the object of that kind and name, decoded into T.
func get[T any](t testing.TB, r *rendered, kind, name string) *T {
	t.Helper()
	o := r.find(kind, name)
	if o == nil {
		var have []string
		for _, o := range r.objs {
			have = append(have, o.GetKind()+"/"+o.GetName())
		}
		t.Fatalf("no %s %q rendered; have %v", kind, name, have)
	}
	return convert[T](t, o)
}

func convert[T any](t testing.TB, o *unstructured.Unstructured) *T {
	t.Helper()
	var v T
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(o.Object, &v, true); err != nil {
		t.Fatalf("%s %s does not decode as %T: %v", o.GetKind(), o.GetName(), v, err)
	}
	return &v
}

// flagName returns the name of a --flag[=value] argument, or "".
func flagName(arg string) string {
	if !strings.HasPrefix(arg, "-") {
		return ""
	}
	name, _, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
	return name
}

// checkCobraFlags fails for every --flag in args that cmd does not define.
func checkCobraFlags(t testing.TB, what string, cmd *cobra.Command, args []string) {
	t.Helper()
	for _, a := range args {
		n := flagName(a)
		if n == "" {
			continue
		}
		if cmd.Flags().Lookup(n) != nil || cmd.PersistentFlags().Lookup(n) != nil || cmd.InheritedFlags().Lookup(n) != nil {
			continue
		}
		t.Errorf("%s: %s has no flag --%s (arg %q)", what, cmd.Name(), n, a)
	}
}

// checkSidecarFlags fails for every --flag in args that the sidecar binary
// from the tools cache does not list in its --help. Without the binary the
// check is skipped (the sidecars come with make tools-e2e).
func checkSidecarFlags(t testing.TB, binary string, args []string) {
	t.Helper()
	path := filepath.Join(toolsBin(), binary)
	if _, err := os.Stat(path); err != nil {
		t.Logf("%s not built (make tools-e2e): its flags are not checked", binary)
		return
	}
	res, err := run(path, "--help")
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("%s --help: %v", binary, err)
	}
	help := string(res.Stdout) + string(res.Stderr)
	known := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s+-{1,2}([a-z0-9-]+)`).FindAllStringSubmatch(help, -1) {
		known[m[1]] = true
	}
	if len(known) == 0 {
		t.Fatalf("%s --help lists no flags:\n%s", binary, help)
	}
	for _, a := range args {
		if n := flagName(a); n != "" && !known[n] {
			t.Errorf("%s has no flag --%s (arg %q)", binary, n, a)
		}
	}
}

// appVersion is a chart's appVersion, the default tag of the suite's images.
func appVersion(t testing.TB, chart string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(chart, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		AppVersion string `json:"appVersion"`
	}
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	return c.AppVersion
}
