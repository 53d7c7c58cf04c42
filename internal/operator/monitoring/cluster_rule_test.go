package monitoring

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/toposuite/toposuite/internal/api/operator/v1alpha1"
)

// ClusterRule follows the spec: none with metrics off, the spec's
// thresholds in the expressions, the defaults where the spec has none.
func TestClusterRule(t *testing.T) {
	spec := v1alpha1.TopolvmClusterSpec{}
	if u, err := ClusterRule(&spec, "ns"); u != nil || err != nil {
		t.Errorf("metrics off: %v, %v", u, err)
	}
	exprs := func(warning, critical int32) []string {
		spec.Components.Metrics.Enabled = true
		spec.Alerts = v1alpha1.AlertThresholds{WarningPercent: warning, CriticalPercent: critical}
		u, err := ClusterRule(&spec, "ns")
		if err != nil {
			t.Fatal(err)
		}
		if u.GetName() != RuleName || u.GetNamespace() != "ns" {
			t.Errorf("rule %s/%s", u.GetNamespace(), u.GetName())
		}
		var out []string
		groups, _, _ := unstructured.NestedSlice(u.Object, "spec", "groups")
		for _, g := range groups {
			for _, r := range g.(map[string]any)["rules"].([]any) {
				out = append(out, r.(map[string]any)["expr"].(string))
			}
		}
		return out
	}
	has := func(exprs []string, suffix string) bool {
		for _, e := range exprs {
			if strings.HasSuffix(e, suffix) {
				return true
			}
		}
		return false
	}
	if e := exprs(60, 90); !has(e, "> 60") || !has(e, "> 90") || has(e, "> 75") {
		t.Errorf("thresholds 60/90: %v", e)
	}
	if e := exprs(0, 0); !has(e, "> 75") || !has(e, "> 85") {
		t.Errorf("default thresholds: %v", e)
	}
}
