package monitoring

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/toposuite/toposuite/internal/api/operator/v1alpha1"
)

// Metric names. Every series carries the cluster label (the
// TopolvmCluster's name); node series carry node, storage series the
// volume_group or pool.
const (
	ClusterReady           = "topolvm_operator_cluster_ready"
	ClusterDegraded        = "topolvm_operator_cluster_degraded"
	ClusterProgressing     = "topolvm_operator_cluster_progressing"
	ComponentDesiredPods   = "topolvm_operator_component_desired_pods"
	ComponentAvailablePods = "topolvm_operator_component_available_pods"
	NodeVGSizeBytes        = "topolvm_operator_node_volume_group_size_bytes"
	NodeVGFreeBytes        = "topolvm_operator_node_volume_group_free_bytes"
	NodePoolSizeBytes      = "topolvm_operator_node_pool_size_bytes"
	NodePoolFreeBytes      = "topolvm_operator_node_pool_free_bytes"
	NodeDiscoveredDevices  = "topolvm_operator_node_discovered_devices"
	NodeRefusedDevices     = "topolvm_operator_node_refused_devices"
	NodeErrors             = "topolvm_operator_node_errors"
	NodeReportTimestamp    = "topolvm_operator_node_report_timestamp_seconds"
)

// Component is one applied workload and how many of its pods are
// available: a Deployment's replicas, a DaemonSet's scheduled pods.
type Component struct {
	// Kind is Deployment or DaemonSet; Name is the object's name.
	Kind, Name         string
	Desired, Available int32
}

// DeploymentComponent describes d.
func DeploymentComponent(d *appsv1.Deployment) Component {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	return Component{Kind: "Deployment", Name: d.Name, Desired: want, Available: d.Status.AvailableReplicas}
}

// DaemonSetComponent describes d.
func DaemonSetComponent(d *appsv1.DaemonSet) Component {
	return Component{Kind: "DaemonSet", Name: d.Name, Desired: d.Status.DesiredNumberScheduled, Available: d.Status.NumberAvailable}
}

// Metrics holds the last status of each TopolvmCluster and exports it on
// every scrape. Series of nodes, storage and components that are gone
// disappear with the next Observe, not linger as a gauge vector's would.
type Metrics struct {
	mu       sync.Mutex
	clusters map[string]snapshot
	descs    map[string]*prometheus.Desc
}

type snapshot struct {
	status     v1alpha1.TopolvmClusterStatus
	components []Component
}

// NewMetrics returns the collector; register it with the manager's
// registry (controller-runtime's metrics.Registry).
func NewMetrics() *Metrics {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, append([]string{"cluster"}, labels...), nil)
	}
	m := &Metrics{clusters: map[string]snapshot{}, descs: map[string]*prometheus.Desc{}}
	for _, desc := range []struct {
		name, help string
		labels     []string
	}{
		{ClusterReady, "1 when the TopolvmCluster's Ready condition is True.", nil},
		{ClusterDegraded, "1 when the TopolvmCluster's Degraded condition is True; reason is the condition's.", []string{"reason"}},
		{ClusterProgressing, "1 while the TopolvmCluster's objects roll out.", nil},
		{ComponentDesiredPods, "Pods an applied Deployment or DaemonSet should have.", []string{"kind", "component"}},
		{ComponentAvailablePods, "Pods of an applied Deployment or DaemonSet that are available.", []string{"kind", "component"}},
		{NodeVGSizeBytes, "Size of a node's volume group, as the node's agent reported it.", []string{"node", "volume_group"}},
		{NodeVGFreeBytes, "Free bytes of a node's volume group, as the node's agent reported it.", []string{"node", "volume_group"}},
		{NodePoolSizeBytes, "Size of a node's btrfs pool, as the node's agent reported it.", []string{"node", "pool"}},
		{NodePoolFreeBytes, "Free bytes of a node's btrfs pool, as the node's agent reported it.", []string{"node", "pool"}},
		{NodeDiscoveredDevices, "Free block devices discovered on a node that no class uses.", []string{"node"}},
		{NodeRefusedDevices, "Declared devices that prepare refused on a node.", []string{"node"}},
		{NodeErrors, "Errors in a node's last report.", []string{"node"}},
		{NodeReportTimestamp, "When a node's agent last reported, in seconds since the epoch.", []string{"node"}},
	} {
		m.descs[desc.name] = d(desc.name, desc.help, desc.labels...)
	}
	return m
}

// Names lists every metric name the collector exports.
func (m *Metrics) Names() []string {
	out := make([]string, 0, len(m.descs))
	for n := range m.descs {
		out = append(out, n)
	}
	return out
}

// Observe records cluster's status (as just written) and the state of its
// components.
func (m *Metrics) Observe(cluster string, st v1alpha1.TopolvmClusterStatus, components []Component) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.clusters[cluster] = snapshot{status: *st.DeepCopy(), components: append([]Component(nil), components...)}
}

// Forget drops a deleted cluster's series.
func (m *Metrics) Forget(cluster string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.clusters, cluster)
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range m.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for cluster, s := range m.clusters {
		gauge := func(name string, v float64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(m.descs[name], prometheus.GaugeValue, v, append([]string{cluster}, labels...)...)
		}
		gauge(ClusterReady, condition(s.status.Conditions, v1alpha1.ConditionReady))
		reason := ""
		if c := meta.FindStatusCondition(s.status.Conditions, v1alpha1.ConditionDegraded); c != nil && c.Status == metav1.ConditionTrue {
			reason = c.Reason
		}
		gauge(ClusterDegraded, condition(s.status.Conditions, v1alpha1.ConditionDegraded), reason)
		gauge(ClusterProgressing, condition(s.status.Conditions, v1alpha1.ConditionProgressing))
		for _, c := range s.components {
			gauge(ComponentDesiredPods, float64(c.Desired), c.Kind, c.Name)
			gauge(ComponentAvailablePods, float64(c.Available), c.Kind, c.Name)
		}
		for _, n := range s.status.Nodes {
			refused := 0
			for _, vg := range n.VolumeGroups {
				gauge(NodeVGSizeBytes, float64(vg.Size), n.Name, vg.Name)
				gauge(NodeVGFreeBytes, float64(vg.Free), n.Name, vg.Name)
				refused += len(vg.Refused)
			}
			for _, p := range n.Pools {
				gauge(NodePoolSizeBytes, float64(p.Size), n.Name, p.Name)
				gauge(NodePoolFreeBytes, float64(p.Free), n.Name, p.Name)
				refused += len(p.Refused)
			}
			gauge(NodeDiscoveredDevices, float64(len(n.DiscoveredDevices)), n.Name)
			gauge(NodeRefusedDevices, float64(refused), n.Name)
			gauge(NodeErrors, float64(len(n.Errors)), n.Name)
			if !n.Updated.IsZero() {
				gauge(NodeReportTimestamp, float64(n.Updated.Unix()), n.Name)
			}
		}
	}
}

func condition(conds []metav1.Condition, typ string) float64 {
	if meta.IsStatusConditionTrue(conds, typ) {
		return 1
	}
	return 0
}
