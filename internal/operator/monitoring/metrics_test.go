package monitoring

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/toposuite/toposuite/internal/api/operator/v1alpha1"
)

func TestMetrics(t *testing.T) {
	m := NewMetrics()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(m); err != nil {
		t.Fatal(err)
	}
	st := v1alpha1.TopolvmClusterStatus{
		Conditions: []metav1.Condition{
			{Type: v1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: "x"},
			{Type: v1alpha1.ConditionDegraded, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonDeviceRefused},
		},
		Nodes: []v1alpha1.NodeStatus{{
			Name: "node-1", Updated: metav1.NewTime(time.Unix(1700000000, 0)),
			VolumeGroups: []v1alpha1.StorageStatus{{Name: "vg1", Size: 1000, Free: 250,
				Refused: []v1alpha1.RefusedDevice{{Device: "/dev/sdc", Reason: "has a filesystem (ext4)"}}}},
			Pools:             []v1alpha1.StorageStatus{{Name: "fast", Size: 400, Free: 100}},
			DiscoveredDevices: []v1alpha1.DiscoveredDevice{{Path: "/dev/sdd"}, {Path: "/dev/sde"}},
		}},
	}
	two := int32(2)
	comps := []Component{
		DaemonSetComponent(&appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "topolvm-node"},
			Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 3, NumberAvailable: 2}}),
		DeploymentComponent(&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "topolvm-controller"},
			Spec: appsv1.DeploymentSpec{Replicas: &two}, Status: appsv1.DeploymentStatus{AvailableReplicas: 2}}),
	}
	m.Observe("tc", st, comps)
	want := `
# HELP topolvm_operator_cluster_degraded 1 when the TopolvmCluster's Degraded condition is True; reason is the condition's.
# TYPE topolvm_operator_cluster_degraded gauge
topolvm_operator_cluster_degraded{cluster="tc",reason="DeviceRefused"} 1
# HELP topolvm_operator_cluster_ready 1 when the TopolvmCluster's Ready condition is True.
# TYPE topolvm_operator_cluster_ready gauge
topolvm_operator_cluster_ready{cluster="tc"} 0
# HELP topolvm_operator_component_available_pods Pods of an applied Deployment or DaemonSet that are available.
# TYPE topolvm_operator_component_available_pods gauge
topolvm_operator_component_available_pods{cluster="tc",component="topolvm-controller",kind="Deployment"} 2
topolvm_operator_component_available_pods{cluster="tc",component="topolvm-node",kind="DaemonSet"} 2
# HELP topolvm_operator_component_desired_pods Pods an applied Deployment or DaemonSet should have.
# TYPE topolvm_operator_component_desired_pods gauge
topolvm_operator_component_desired_pods{cluster="tc",component="topolvm-controller",kind="Deployment"} 2
topolvm_operator_component_desired_pods{cluster="tc",component="topolvm-node",kind="DaemonSet"} 3
# HELP topolvm_operator_node_discovered_devices Free block devices discovered on a node that no class uses.
# TYPE topolvm_operator_node_discovered_devices gauge
topolvm_operator_node_discovered_devices{cluster="tc",node="node-1"} 2
# HELP topolvm_operator_node_pool_free_bytes Free bytes of a node's btrfs pool, as the node's agent reported it.
# TYPE topolvm_operator_node_pool_free_bytes gauge
topolvm_operator_node_pool_free_bytes{cluster="tc",node="node-1",pool="fast"} 100
# HELP topolvm_operator_node_refused_devices Declared devices that prepare refused on a node.
# TYPE topolvm_operator_node_refused_devices gauge
topolvm_operator_node_refused_devices{cluster="tc",node="node-1"} 1
# HELP topolvm_operator_node_report_timestamp_seconds When a node's agent last reported, in seconds since the epoch.
# TYPE topolvm_operator_node_report_timestamp_seconds gauge
topolvm_operator_node_report_timestamp_seconds{cluster="tc",node="node-1"} 1.7e+09
# HELP topolvm_operator_node_volume_group_free_bytes Free bytes of a node's volume group, as the node's agent reported it.
# TYPE topolvm_operator_node_volume_group_free_bytes gauge
topolvm_operator_node_volume_group_free_bytes{cluster="tc",node="node-1",volume_group="vg1"} 250
`
	names := []string{ClusterDegraded, ClusterReady, ComponentAvailablePods, ComponentDesiredPods, NodeDiscoveredDevices,
		NodePoolFreeBytes, NodeRefusedDevices, NodeReportTimestamp, NodeVGFreeBytes}
	if err := promtest.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}

	// A node gone from the status takes its series with it; a deleted
	// cluster takes all of them.
	st.Nodes = nil
	m.Observe("tc", st, comps)
	if n, err := promtest.GatherAndCount(reg, NodeVGFreeBytes); err != nil || n != 0 {
		t.Errorf("%d volume group series after the node left (%v)", n, err)
	}
	m.Forget("tc")
	if n, err := promtest.GatherAndCount(reg); err != nil || n != 0 {
		t.Errorf("%d series after Forget (%v)", n, err)
	}
}
