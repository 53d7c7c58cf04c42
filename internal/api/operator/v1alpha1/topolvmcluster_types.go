package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// TopolvmCluster runs the suite: which components, where, and the storage
// each node group builds. There is one per cluster, named "topolvm".
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=tc
// +kubebuilder:subresource:status
// +kubebuilder:validation:XValidation:rule="self.metadata.name == 'topolvm'",message="there is one TopolvmCluster per cluster and its name is topolvm"
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type TopolvmCluster struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec TopolvmClusterSpec `json:"spec,omitempty"`
	// +optional
	Status TopolvmClusterStatus `json:"status,omitempty"`
}

// TopolvmClusterList is a list of TopolvmClusters.
// +kubebuilder:object:root=true
type TopolvmClusterList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []TopolvmCluster `json:"items"`
}

// TopolvmClusterSpec is what the suite should look like.
// +kubebuilder:validation:XValidation:rule="!has(self.nodeGroups) || self.nodeGroups.all(a, self.nodeGroups.exists_one(b, b.nodeSelector == a.nodeSelector))",message="two node groups have the same nodeSelector"
// +kubebuilder:validation:XValidation:rule="!has(self.nodeGroups) || size(self.nodeGroups) <= 1 || self.nodeGroups.all(g, size(g.nodeSelector) > 0)",message="a node group with an empty nodeSelector takes every node and must be the only group"
// +kubebuilder:validation:XValidation:rule="!has(self.nodeGroups) || !has(self.components) || !has(self.components.lvm) || !self.components.lvm.enabled || self.nodeGroups.exists(g, has(g.deviceClasses) && size(g.deviceClasses) > 0)",message="the LVM driver is enabled but no node group has a device class"
// +kubebuilder:validation:XValidation:rule="!has(self.nodeGroups) || !has(self.components) || !has(self.components.btrfs) || !self.components.btrfs.enabled || self.nodeGroups.exists(g, has(g.pools) && size(g.pools) > 0)",message="the btrfs driver is enabled but no node group has a pool"
type TopolvmClusterSpec struct {
	// Components says which parts of the suite run.
	// +kubebuilder:default={}
	// +optional
	Components Components `json:"components"`
	// Images overrides image references and the pull policy.
	// +optional
	Images Images `json:"images,omitempty"`
	// NodeGroups say, per set of nodes, which volume groups and btrfs pools
	// to build and serve. A node may belong to one group only.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=8
	// +optional
	NodeGroups []NodeGroup `json:"nodeGroups,omitempty"`
	// Alerts are the thresholds of the PrometheusRule.
	// +kubebuilder:default={}
	// +optional
	Alerts AlertThresholds `json:"alerts"`
	// ChartValues are Helm values merged over the ones the operator
	// derives from this spec, per chart, for what the spec does not model
	// (tolerations, a kubelet directory, lvmd's activation mode on a test
	// machine...). The chart's values schema still applies.
	// +optional
	ChartValues *ChartValues `json:"chartValues,omitempty"`
	// VolumeDeletionPolicy says what happens to LogicalVolumes (and their
	// data) when this TopolvmCluster is deleted: Keep (default) leaves them
	// and the CRD in place; Delete removes the LogicalVolume CRD too.
	// +kubebuilder:validation:Enum=Keep;Delete
	// +kubebuilder:default=Keep
	// +optional
	VolumeDeletionPolicy VolumeDeletionPolicy `json:"volumeDeletionPolicy,omitempty"`
}

// ChartValues are extra Helm values per chart.
type ChartValues struct {
	// TopoLVM: the topolvm chart (every release of it).
	// +optional
	TopoLVM *runtime.RawExtension `json:"topolvm,omitempty"`
	// TopoLS: the topols chart.
	// +optional
	TopoLS *runtime.RawExtension `json:"topols,omitempty"`
	// Scheduler: the topolvm-scheduler chart.
	// +optional
	Scheduler *runtime.RawExtension `json:"scheduler,omitempty"`
}

// VolumeDeletionPolicy is Keep or Delete.
type VolumeDeletionPolicy string

// The volume deletion policies.
const (
	VolumeDeletionKeep   VolumeDeletionPolicy = "Keep"
	VolumeDeletionDelete VolumeDeletionPolicy = "Delete"
)

// Components says which parts of the suite run.
// +kubebuilder:validation:XValidation:rule="!has(self.webhook) || !has(self.webhook.enabled) || !self.webhook.enabled || (has(self.scheduler) && has(self.scheduler.mode) && self.scheduler.mode == 'Extender')",message="the pod webhook only makes sense with scheduler.mode Extender"
type Components struct {
	// LVM is TopoLVM (topolvm.io).
	// +kubebuilder:default={enabled: true}
	// +optional
	LVM Driver `json:"lvm"`
	// Btrfs is TopoLS (topols.io).
	// +kubebuilder:default={enabled: false}
	// +optional
	Btrfs Driver `json:"btrfs"`
	// Scheduler says how kube-scheduler learns capacity.
	// +kubebuilder:default={}
	// +optional
	Scheduler Scheduler `json:"scheduler"`
	// Webhook is the pod mutating webhook of both drivers (needs the
	// extender).
	// +kubebuilder:default={}
	// +optional
	Webhook Toggle `json:"webhook"`
	// Metrics are the metrics Services, the PrometheusRule and the
	// dashboard.
	// +kubebuilder:default={enabled: true}
	// +optional
	Metrics Toggle `json:"metrics"`
}

// Toggle turns a component on or off.
type Toggle struct {
	// +kubebuilder:default=false
	// +optional
	Enabled bool `json:"enabled"`
}

// Driver is one CSI driver: its controller Deployment and node DaemonSets.
type Driver struct {
	// +optional
	Enabled bool `json:"enabled"`
	// ControllerReplicas of the controller Deployment.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=5
	// +kubebuilder:default=2
	// +optional
	ControllerReplicas int32 `json:"controllerReplicas,omitempty"`
	// ControllerResources of the controller container.
	// +optional
	ControllerResources *ResourceRequirements `json:"controllerResources,omitempty"`
	// NodeResources of the node plugin container.
	// +optional
	NodeResources *ResourceRequirements `json:"nodeResources,omitempty"`
}

// SchedulerMode is Extender or StorageCapacity.
type SchedulerMode string

// The scheduler modes.
const (
	// SchedulerStorageCapacity: kube-scheduler uses CSIStorageCapacity
	// objects; no extender runs.
	SchedulerStorageCapacity SchedulerMode = "StorageCapacity"
	// SchedulerExtender: topolvm-scheduler runs as a kube-scheduler
	// extender (kube-scheduler's configuration is the administrator's).
	SchedulerExtender SchedulerMode = "Extender"
)

// Scheduler says how kube-scheduler learns capacity.
type Scheduler struct {
	// +kubebuilder:validation:Enum=StorageCapacity;Extender
	// +kubebuilder:default=StorageCapacity
	// +optional
	Mode SchedulerMode `json:"mode,omitempty"`
	// Resources of the extender container.
	// +optional
	Resources *ResourceRequirements `json:"resources,omitempty"`
}

// ResourceRequirements are a container's requests and limits (a subset of
// the core type that keeps the CRD small).
type ResourceRequirements struct {
	// +optional
	Requests map[string]string `json:"requests,omitempty"`
	// +optional
	Limits map[string]string `json:"limits,omitempty"`
}

// Images overrides image references.
type Images struct {
	// Overrides maps a component image name (topolvm-controller,
	// topolvm-node, topols-node, lvmd, btrfsd, topolvm-scheduler,
	// csi-provisioner, csi-resizer, csi-snapshotter) to a full reference
	// (repository:tag or repository@digest).
	// +kubebuilder:validation:XValidation:rule="self.all(k, k in ['topolvm-controller','topolvm-node','topols-node','lvmd','btrfsd','topolvm-scheduler','csi-provisioner','csi-resizer','csi-snapshotter'])",message="unknown image name"
	// +kubebuilder:validation:MaxProperties=9
	// +optional
	Overrides map[string]string `json:"overrides,omitempty"`
	// PullPolicy of every container.
	// +kubebuilder:validation:Enum=Always;IfNotPresent;Never
	// +kubebuilder:default=IfNotPresent
	// +optional
	PullPolicy string `json:"pullPolicy,omitempty"`
}

// AlertThresholds are percentages of a volume group, thin pool or btrfs pool
// in use above which the PrometheusRule warns and pages.
// +kubebuilder:validation:XValidation:rule="!has(self.warningPercent) || !has(self.criticalPercent) || self.warningPercent < self.criticalPercent",message="warningPercent must be below criticalPercent"
type AlertThresholds struct {
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=99
	// +kubebuilder:default=75
	// +optional
	WarningPercent int32 `json:"warningPercent"`
	// +kubebuilder:validation:Minimum=2
	// +kubebuilder:validation:Maximum=100
	// +kubebuilder:default=85
	// +optional
	CriticalPercent int32 `json:"criticalPercent"`
}
