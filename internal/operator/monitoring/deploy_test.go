package monitoring

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/yaml"

	"github.com/toposuite/toposuite/btrfsd"
	"github.com/toposuite/toposuite/internal/controller"
	"github.com/toposuite/toposuite/lvmd"
)

var update = flag.Bool("update", false, "rewrite deploy/monitoring/prometheusrule.yaml from Groups(DefaultThresholds)")

// deployDir holds the monitoring files users apply without the operator.
var deployDir = filepath.Join("..", "..", "..", "deploy", "monitoring")

// knownMetrics are the series the rules and the dashboard may use: the
// operator's and the node plugins' capacity gauges, and Prometheus's own.
func knownMetrics() []string {
	known := NewMetrics().Names()
	for _, n := range []string{
		lvmd.MetricNames.SizeBytes, lvmd.MetricNames.AvailableBytes, lvmd.MetricNames.ThinSizeBytes,
		lvmd.MetricNames.ThinDataPercent, lvmd.MetricNames.ThinMetadataPercent, lvmd.MetricNames.ThinAvailableBytes,
		btrfsd.MetricNames.SizeBytes, btrfsd.MetricNames.AvailableBytes, controller.OrphanVolumesMetric,
	} {
		if n != "" {
			known = append(known, n)
		}
	}
	return known
}

// checkExpr parses a PromQL expression and checks each series it selects
// is one the suite exports.
func checkExpr(t *testing.T, where, expr string) {
	t.Helper()
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		t.Errorf("%s: %q does not parse: %v", where, expr, err)
		return
	}
	known := knownMetrics()
	selects := 0
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			selects++
			if !slices.Contains(known, vs.Name) {
				t.Errorf("%s: %q selects %q, which nothing in the suite exports", where, expr, vs.Name)
			}
		}
		return nil
	})
	if selects == 0 {
		t.Errorf("%s: %q selects no series", where, expr)
	}
}

func TestRules(t *testing.T) {
	groups := Groups(Thresholds{WarningPercent: 60, CriticalPercent: 90})
	var alerts []string
	for _, g := range groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			checkExpr(t, r.Alert, r.Expr)
			if s := r.Labels["severity"]; s != "warning" && s != "critical" {
				t.Errorf("%s: severity %q", r.Alert, s)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: no summary or description", r.Alert)
			}
			if strings.HasSuffix(r.Alert, "Warning") && !strings.HasSuffix(r.Expr, "> 60") ||
				strings.HasSuffix(r.Alert, "Critical") && !strings.HasSuffix(r.Expr, "> 90") {
				t.Errorf("%s: %q does not use the thresholds", r.Alert, r.Expr)
			}
		}
	}
	for _, want := range []string{"TopoLVMVolumeGroupFullWarning", "TopoLVMVolumeGroupFullCritical", "TopoLVMThinPoolDataFullCritical",
		"TopoLSPoolFullWarning", "TopoSuiteNodePluginDown", "TopoSuiteClusterDegraded"} {
		if !slices.Contains(alerts, want) {
			t.Errorf("no alert %s in %v", want, alerts)
		}
	}
	u, err := PrometheusRule("toposuite", "topolvm-system", DefaultThresholds)
	if err != nil {
		t.Fatal(err)
	}
	if u.GetKind() != "PrometheusRule" || u.GetNamespace() != "topolvm-system" || u.GetAPIVersion() != "monitoring.coreos.com/v1" {
		t.Errorf("PrometheusRule object %v", u.Object)
	}
}

// deploy/monitoring/prometheusrule.yaml is Groups at the default
// thresholds, for users without the operator; it must not drift.
func TestDeployedPrometheusRule(t *testing.T) {
	u, err := PrometheusRule("toposuite", "", DefaultThresholds)
	if err != nil {
		t.Fatal(err)
	}
	b, err := yaml.Marshal(u.Object)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte("# Generated from internal/operator/monitoring (Groups at the default thresholds);\n"+
		"# regenerate with: go test ./internal/operator/monitoring -run TestDeployedPrometheusRule -update\n"), b...)
	path := filepath.Join(deployDir, "prometheusrule.yaml")
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("%s is not what Groups makes; regenerate it with -update", path)
	}
}

// The dashboard is valid JSON, and every panel's queries parse and select
// series the suite exports.
func TestDashboard(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(deployDir, "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	if d.UID == "" || len(d.Panels) == 0 {
		t.Fatalf("dashboard without uid or panels")
	}
	// Grafana's variables become a value PromQL accepts.
	vars := regexp.MustCompile(`\$\{?[A-Za-z_]+\}?`)
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			checkExpr(t, "panel "+p.Title, vars.ReplaceAllString(tg.Expr, "x"))
		}
	}
}
