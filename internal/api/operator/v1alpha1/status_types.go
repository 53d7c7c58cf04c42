package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition types of a TopolvmCluster.
const (
	// ConditionReady: every component applied is available and no node
	// reports an error.
	ConditionReady = "Ready"
	// ConditionProgressing: objects were changed and are rolling out.
	ConditionProgressing = "Progressing"
	// ConditionDegraded: something the spec asks for cannot be done (the
	// reason and message say what).
	ConditionDegraded = "Degraded"
)

// Condition reasons.
const (
	ReasonApplied            = "Applied"
	ReasonRollingOut         = "RollingOut"
	ReasonRenderFailed       = "RenderFailed"
	ReasonApplyFailed        = "ApplyFailed"
	ReasonNodeInTwoGroups    = "NodeInTwoGroups"
	ReasonDeviceRefused      = "DeviceRefused"
	ReasonNodeError          = "NodeError"
	ReasonAsExpected         = "AsExpected"
	ReasonComponentsNotReady = "ComponentsNotReady"
	// ReasonNoDeviceSelected: a node of a group with device selectors
	// reported no device for one of its volume groups, so it serves none
	// of the group's device classes.
	ReasonNoDeviceSelected = "NoDeviceSelected"
	// ReasonWaitingForReport: a node of a group with device selectors has
	// no report yet; its node plugin is rendered once it has one.
	ReasonWaitingForReport = "WaitingForReport"
)

// TopolvmClusterStatus is what the operator made of the spec.
type TopolvmClusterStatus struct {
	// ObservedGeneration is the spec generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: Ready, Progressing, Degraded.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Nodes are the per-node figures the nodes report.
	// +listType=map
	// +listMapKey=name
	// +optional
	Nodes []NodeStatus `json:"nodes,omitempty"`
	// Applied counts the objects the operator manages.
	// +optional
	Applied int32 `json:"applied,omitempty"`
	// LastError is the last failure of a reconcile; empty after a
	// successful one.
	// +optional
	LastError string `json:"lastError,omitempty"`
}

// NodeStatus is one node's storage.
type NodeStatus struct {
	Name string `json:"name"`
	// Group is the node group the node belongs to.
	// +optional
	Group string `json:"group,omitempty"`
	// Updated is when the node last reported.
	// +optional
	Updated metav1.Time `json:"updated,omitempty"`
	// +optional
	VolumeGroups []StorageStatus `json:"volumeGroups,omitempty"`
	// +optional
	Pools []StorageStatus `json:"pools,omitempty"`
	// DiscoveredDevices are free devices no class uses.
	// +optional
	DiscoveredDevices []DiscoveredDevice `json:"discoveredDevices,omitempty"`
	// Errors the node reported, including refused devices.
	// +optional
	Errors []string `json:"errors,omitempty"`
}

// StorageStatus is a volume group or a btrfs pool on a node.
type StorageStatus struct {
	Name string `json:"name"`
	// Size and Free in bytes.
	Size int64 `json:"size"`
	Free int64 `json:"free"`
	// +optional
	Devices []string `json:"devices,omitempty"`
	// Refused devices with the reason.
	// +optional
	Refused []RefusedDevice `json:"refused,omitempty"`
}

// RefusedDevice is a declared device the node would not use.
type RefusedDevice struct {
	Device string `json:"device"`
	Reason string `json:"reason"`
}

// DiscoveredDevice is a free device found on a node.
type DiscoveredDevice struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
	// +optional
	Rotational bool `json:"rotational,omitempty"`
	// +optional
	Model string `json:"model,omitempty"`
	// +optional
	ByID []string `json:"byID,omitempty"`
}
