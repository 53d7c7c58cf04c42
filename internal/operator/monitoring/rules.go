package monitoring

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/toposuite/toposuite/internal/api/operator/v1alpha1"
)

// Thresholds are the percentages of a volume group, thin pool or btrfs
// pool in use above which the rules warn and page (the TopolvmCluster's
// spec.alerts).
type Thresholds struct {
	WarningPercent, CriticalPercent int32
}

// DefaultThresholds are the spec's defaults.
var DefaultThresholds = Thresholds{WarningPercent: 75, CriticalPercent: 85}

// Rule is one alerting rule of a PrometheusRule.
type Rule struct {
	Alert       string            `json:"alert"`
	Expr        string            `json:"expr"`
	For         string            `json:"for,omitempty"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

// RuleGroup is a named list of rules.
type RuleGroup struct {
	Name  string `json:"name"`
	Rules []Rule `json:"rules"`
}

// usage is one kind of storage whose use the rules watch: a PromQL
// expression of its use in percent, and words for the alert. The
// expressions read the node plugins' own capacity gauges (lvmd's and
// btrfsd's, which the node plugins export too), so the alerts work with
// plain Helm installs as well as with the operator.
type usage struct {
	alert, title, what, expr, labels string
}

var usages = []usage{
	// Thick classes only: a thin class exports the pool's gauges instead,
	// and its volume group is full by design (the pool holds it all).
	{"TopoLVMVolumeGroupFull", "Volume group use", "volume group", "100 * (1 - topolvm_volumegroup_available_bytes / topolvm_volumegroup_size_bytes)",
		"Device class {{ $labels.device_class }} on {{ $labels.node }}"},
	{"TopoLVMThinPoolDataFull", "Thin pool data use", "thin pool's data", "topolvm_thinpool_data_percent",
		"Device class {{ $labels.device_class }} on {{ $labels.node }}"},
	{"TopoLVMThinPoolMetadataFull", "Thin pool metadata use", "thin pool's metadata", "topolvm_thinpool_metadata_percent",
		"Device class {{ $labels.device_class }} on {{ $labels.node }}"},
	{"TopoLSPoolFull", "btrfs pool use", "btrfs pool", "100 * (1 - topols_pool_available_bytes / topols_pool_size_bytes)",
		"Pool {{ $labels.pool }} on {{ $labels.node }}"},
}

// OrphanVolumes is the node plugins' gauge of volumes on a node that no
// LogicalVolume names (internal/controller's orphan collector).
const OrphanVolumes = "toposuite_orphan_volumes"

// Groups returns the rules at thresholds t: each kind of storage above
// the warning and the critical percentage, and volumes left on a node with
// no object (toposuite.capacity, on the node plugins' metrics); the
// cluster degraded, a node plugin (or any DaemonSet of the suite) or a
// controller with pods down, and a node whose agent stopped reporting
// (toposuite.health, on the operator's metrics: silent without it).
func Groups(t Thresholds) []RuleGroup {
	capacity := RuleGroup{Name: "toposuite.capacity"}
	for _, u := range usages {
		for _, level := range []struct {
			suffix, severity string
			percent          int32
		}{{"Warning", "warning", t.WarningPercent}, {"Critical", "critical", t.CriticalPercent}} {
			capacity.Rules = append(capacity.Rules, Rule{
				Alert:  u.alert + level.suffix,
				Expr:   fmt.Sprintf("%s > %d", u.expr, level.percent),
				For:    "5m",
				Labels: map[string]string{"severity": level.severity},
				Annotations: map[string]string{
					"summary":     fmt.Sprintf("%s above %d%%.", u.title, level.percent),
					"description": fmt.Sprintf("%s: the %s is {{ $value | humanize }}%% full.", u.labels, u.what),
				},
			})
		}
	}
	capacity.Rules = append(capacity.Rules, Rule{
		// The collector counts a volume only after its grace period (10
		// minutes by default): by then no create in flight can explain it.
		Alert: "TopoSuiteOrphanVolumes", Expr: OrphanVolumes + " > 0", For: "15m",
		Labels: map[string]string{"severity": "warning"},
		Annotations: map[string]string{
			"summary": "Volumes on a node that no LogicalVolume names.",
			"description": "{{ $value }} volumes of {{ $labels.driver }} in device class {{ $labels.device_class }} on {{ $labels.node }} " +
				"belong to no LogicalVolume and hold their space; the Node's OrphanVolume events name them. " +
				"Remove them, or run the node plugin with --orphan-volumes=remove.",
		},
	})
	health := RuleGroup{Name: "toposuite.health", Rules: []Rule{
		{
			Alert: "TopoSuiteClusterDegraded", Expr: ClusterDegraded + " == 1", For: "5m",
			Labels: map[string]string{"severity": "warning"},
			Annotations: map[string]string{
				"summary":     "The TopolvmCluster is degraded.",
				"description": "TopolvmCluster {{ $labels.cluster }} is Degraded ({{ $labels.reason }}); its status conditions say what cannot be done.",
			},
		},
		{
			Alert:  "TopoSuiteNodePluginDown",
			Expr:   ComponentAvailablePods + `{kind="DaemonSet"} < ` + ComponentDesiredPods + `{kind="DaemonSet"}`,
			For:    "5m",
			Labels: map[string]string{"severity": "critical"},
			Annotations: map[string]string{
				"summary":     "Node pods of the suite are down.",
				"description": "DaemonSet {{ $labels.component }} has {{ $value }} pods available, fewer than it should: volumes on those nodes cannot be created, mounted or grown.",
			},
		},
		{
			Alert:  "TopoSuiteControllerDown",
			Expr:   ComponentAvailablePods + `{kind="Deployment"} == 0 and ` + ComponentDesiredPods + `{kind="Deployment"} > 0`,
			For:    "5m",
			Labels: map[string]string{"severity": "critical"},
			Annotations: map[string]string{
				"summary":     "A controller of the suite has no pod available.",
				"description": "Deployment {{ $labels.component }} has no pod available: no volume of its driver can be provisioned.",
			},
		},
		{
			Alert: "TopoSuiteNodeReportStale", Expr: "time() - " + NodeReportTimestamp + " > 900", For: "5m",
			Labels: map[string]string{"severity": "warning"},
			Annotations: map[string]string{
				"summary":     "A node's agent stopped reporting.",
				"description": "Node {{ $labels.node }} last reported {{ $value | humanizeDuration }} ago: its devices and capacity in the status are old.",
			},
		},
	}}
	return []RuleGroup{capacity, health}
}

// PrometheusRule returns the rules as a prometheus-operator PrometheusRule
// object (unstructured: the suite does not depend on prometheus-operator's
// types). An empty namespace leaves it out.
func PrometheusRule(name, namespace string, t Thresholds) (*unstructured.Unstructured, error) {
	groups, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&struct {
		Groups []RuleGroup `json:"groups"`
	}{Groups(t)})
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "monitoring.coreos.com/v1",
		"kind":       "PrometheusRule",
		"metadata": map[string]any{
			"name":   name,
			"labels": map[string]any{"app.kubernetes.io/part-of": "toposuite"},
		},
		"spec": groups,
	}}
	if namespace != "" {
		u.SetNamespace(namespace)
	}
	return u, nil
}

// RuleName is the name of the PrometheusRule the operator applies: the
// same as deploy/monitoring's, so a cluster that had that file applied by
// hand gets its rule taken over rather than a second copy of every alert.
const RuleName = "toposuite"

// ClusterRule is the PrometheusRule a TopolvmCluster asks for, in
// namespace at the spec's thresholds, or nil when its metrics are off.
func ClusterRule(spec *v1alpha1.TopolvmClusterSpec, namespace string) (*unstructured.Unstructured, error) {
	if !spec.Components.Metrics.Enabled {
		return nil, nil
	}
	t := DefaultThresholds
	// The CRD defaults both; a zero is a spec that never went through it.
	if spec.Alerts.WarningPercent != 0 {
		t.WarningPercent = spec.Alerts.WarningPercent
	}
	if spec.Alerts.CriticalPercent != 0 {
		t.CriticalPercent = spec.Alerts.CriticalPercent
	}
	return PrometheusRule(RuleName, namespace, t)
}
