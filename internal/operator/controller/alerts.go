package controller

import (
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"

	"github.com/toposuite/toposuite/internal/api/operator/v1alpha1"
	"github.com/toposuite/toposuite/internal/operator/monitoring"
)

// PrometheusRuleCRD is prometheus-operator's CRD that serves
// PrometheusRules; the reconciler watches it so that the rule is applied
// as soon as it is installed.
const PrometheusRuleCRD = "prometheusrules.monitoring.coreos.com"

const prometheusRuleGroupVersion = "monitoring.coreos.com/v1"

// +kubebuilder:rbac:groups=monitoring.coreos.com,resources=prometheusrules,verbs=get;create;patch;delete

// alerts returns the PrometheusRule to apply with the charts' objects, or
// none with a note for the status when the spec asks for metrics but the
// cluster does not serve PrometheusRules. Leaving it out of the apply also
// prunes one applied earlier (metrics switched off).
func alerts(d discovery.DiscoveryInterface, tc *v1alpha1.TopolvmCluster, namespace string) (*unstructured.Unstructured, string, error) {
	rule, err := monitoring.ClusterRule(&tc.Spec, namespace)
	if rule == nil || err != nil {
		return nil, "", err
	}
	served, err := servesPrometheusRules(d)
	if err != nil {
		// Not skipped: that would prune a rule the cluster may well serve.
		return nil, "", err
	}
	if !served {
		return nil, "the PrometheusRule is not applied: the cluster does not serve " + prometheusRuleGroupVersion + " PrometheusRule (prometheus-operator's CRD); it is applied once that CRD is installed", nil
	}
	return rule, "", nil
}

// servesPrometheusRules asks discovery, not the client's RESTMapper: the
// mapper caches a group once seen and would still map it after the CRD is
// deleted.
func servesPrometheusRules(d discovery.DiscoveryInterface) (bool, error) {
	list, err := d.ServerResourcesForGroupVersion(prometheusRuleGroupVersion)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("discover %s: %w", prometheusRuleGroupVersion, err)
	}
	for _, r := range list.APIResources {
		if r.Kind == "PrometheusRule" {
			return true, nil
		}
	}
	return false, nil
}
