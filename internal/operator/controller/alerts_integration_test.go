//go:build integration

package controller_test

import (
	"encoding/json"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/toposuite/toposuite/internal/api/operator/v1alpha1"
	"github.com/toposuite/toposuite/internal/operator/apply"
	"github.com/toposuite/toposuite/internal/operator/controller"
	"github.com/toposuite/toposuite/internal/operator/monitoring"
	"github.com/toposuite/toposuite/internal/testutil"
)

// standInPrometheusRuleCRD is a stand-in for prometheus-operator's
// PrometheusRule CRD (its real YAML is not available offline): the same
// group, version, kind and names, with a schema that keeps any spec. The
// operator only needs the API server to serve the kind.
const standInPrometheusRuleCRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: ` + controller.PrometheusRuleCRD + `
  annotations: {toposuite.test/stand-in: "not prometheus-operator's CRD"}
spec:
  group: monitoring.coreos.com
  scope: Namespaced
  names: {kind: PrometheusRule, listKind: PrometheusRuleList, plural: prometheusrules, singular: prometheusrule}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
`

var prometheusRule = schema.GroupVersionKind{Group: "monitoring.coreos.com", Version: "v1", Kind: "PrometheusRule"}

// TestIntegrationPrometheusRule: with metrics on and no PrometheusRule CRD
// the reconcile succeeds and the Ready condition says the rule is left
// out; once the (stand-in) CRD is installed the rule is applied without
// any spec change, through the inventory, owned and labelled; new
// thresholds update it; metrics off prunes it.
func TestIntegrationPrometheusRule(t *testing.T) {
	e := startOperator(t, map[string]map[string]string{"n1": {"disk": "ssd"}})
	e.create(clusterYAML)

	// No CRD: the rest is applied, the status says why the rule is not.
	testutil.Eventually(t, "Ready names the missing PrometheusRule CRD", func() bool {
		r := e.condition(v1alpha1.ConditionReady)
		return r != nil && strings.Contains(r.Message, "the PrometheusRule is not applied") && e.exists(daemonSet, ns, "topolvm-ssd-node")
	})
	if tc := e.cluster(); tc.Status.LastError != "" {
		t.Errorf("lastError without the CRD: %s", tc.Status.LastError)
	}
	if d := e.condition(v1alpha1.ConditionDegraded); d == nil || d.Status != metav1.ConditionFalse {
		t.Errorf("Degraded without the CRD: %+v", d)
	}
	if inv := e.inventory(); strings.Contains(inv, "PrometheusRule") {
		t.Errorf("inventory lists a PrometheusRule without the CRD: %s", inv)
	}

	// The CRD appears: the next reconcile (the CRD watch) applies the rule.
	e.create(standInPrometheusRuleCRD)
	testutil.Eventually(t, "the PrometheusRule applied once the CRD is served", func() bool {
		_, err := e.get(prometheusRule, ns, monitoring.RuleName)
		// The test client's RESTMapper too may not map the kind yet.
		return err == nil
	})
	rule, _ := e.get(prometheusRule, ns, monitoring.RuleName)
	tc := e.cluster()
	if refs := rule.GetOwnerReferences(); len(refs) != 1 || refs[0].UID != tc.UID {
		t.Errorf("PrometheusRule owner references: %+v", refs)
	}
	if rule.GetLabels()[apply.LabelOwner] != tc.Name {
		t.Errorf("PrometheusRule labels: %v", rule.GetLabels())
	}
	if got := ruleExprs(t, rule); !hasSuffix(got, "> 75") || !hasSuffix(got, "> 85") {
		t.Errorf("rule at the default thresholds: %v", got)
	}
	if inv := e.inventory(); !strings.Contains(inv, `"kind":"PrometheusRule"`) {
		t.Errorf("the PrometheusRule is not in the inventory: %s", inv)
	}
	testutil.Eventually(t, "the note is gone from Ready", func() bool {
		r := e.condition(v1alpha1.ConditionReady)
		return r != nil && !strings.Contains(r.Message, "PrometheusRule")
	})

	// New thresholds: the rule follows.
	e.update(func(tc *v1alpha1.TopolvmCluster) {
		tc.Spec.Alerts = v1alpha1.AlertThresholds{WarningPercent: 60, CriticalPercent: 90}
	})
	testutil.Eventually(t, "the rule at the new thresholds", func() bool {
		r, err := e.get(prometheusRule, ns, monitoring.RuleName)
		if err != nil {
			return false
		}
		got := ruleExprs(t, r)
		return hasSuffix(got, "> 60") && hasSuffix(got, "> 90") && !hasSuffix(got, "> 75")
	})

	// Metrics off: pruned, and gone from the inventory.
	e.update(func(tc *v1alpha1.TopolvmCluster) { tc.Spec.Components.Metrics.Enabled = false })
	testutil.Eventually(t, "the rule pruned", func() bool {
		return !e.exists(prometheusRule, ns, monitoring.RuleName) && !strings.Contains(e.inventory(), "PrometheusRule")
	})
	if !e.exists(daemonSet, ns, "topolvm-ssd-node") {
		t.Errorf("switching metrics off pruned the node DaemonSet")
	}
}

// inventory is the operator's inventory as stored.
func (e *env) inventory() string {
	cm, err := e.get(inventoryKind, ns, apply.InventoryName)
	if err != nil {
		e.t.Fatalf("inventory: %v", err)
	}
	data, _, _ := unstructured.NestedStringMap(cm.Object, "data")
	b, err := json.Marshal(data)
	if err != nil {
		e.t.Fatal(err)
	}
	return strings.ReplaceAll(string(b), `\"`, `"`)
}

func ruleExprs(t *testing.T, rule *unstructured.Unstructured) []string {
	groups, _, err := unstructured.NestedSlice(rule.Object, "spec", "groups")
	if err != nil || len(groups) == 0 {
		t.Fatalf("PrometheusRule without groups: %v", err)
	}
	var out []string
	for _, g := range groups {
		rules, _, _ := unstructured.NestedSlice(g.(map[string]any), "rules")
		for _, r := range rules {
			expr, _, _ := unstructured.NestedString(r.(map[string]any), "expr")
			out = append(out, expr)
		}
	}
	return out
}

func hasSuffix(list []string, suffix string) bool {
	for _, s := range list {
		if strings.HasSuffix(s, suffix) {
			return true
		}
	}
	return false
}
