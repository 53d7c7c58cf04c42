package v1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// LogicalVolumeSpec is what the CSI controller asks of a node.
// +kubebuilder:validation:XValidation:rule="self.driverName == oldSelf.driverName && self.nodeName == oldSelf.nodeName && self.name == oldSelf.name",message="driverName, nodeName and name are immutable"
type LogicalVolumeSpec struct {
	// DriverName is the CSI driver that owns this volume (topolvm.io,
	// topols.io, or the name a cluster gave it); each controller and node
	// plugin touches only its own driver's objects.
	// +kubebuilder:validation:MinLength=1
	DriverName string `json:"driverName"`
	// Name is the volume's name in the storage daemon (the LV or subvolume).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	Name string `json:"name"`
	// NodeName is the node the volume lives on.
	// +kubebuilder:validation:MinLength=1
	NodeName string `json:"nodeName"`
	// DeviceClass is the daemon's device class (LVM) or pool (btrfs); empty
	// means the node's default.
	// +optional
	DeviceClass string `json:"deviceClass,omitempty"`
	// OptionsClass names an lvcreate options class (LVM only).
	// +optional
	OptionsClass string `json:"optionsClass,omitempty"`
	// Size is the requested size.
	Size resource.Quantity `json:"size"`
	// Source is the name of the volume this one is a snapshot or clone of.
	// +optional
	Source string `json:"source,omitempty"`
	// AccessType of a snapshot: "ro" for VolumeSnapshots, "rw" for restores
	// and clones.
	// +kubebuilder:validation:Enum="";ro;rw
	// +optional
	AccessType string `json:"accessType,omitempty"`
}

// LogicalVolumeStatus is what the node made of it.
type LogicalVolumeStatus struct {
	// VolumeID is set once the volume exists on the node.
	// +optional
	VolumeID string `json:"volumeID,omitempty"`
	// Code is the gRPC code name of the node's last failure (e.g.
	// ResourceExhausted); empty when the last operation worked.
	// +optional
	Code string `json:"code,omitempty"`
	// Message says what failed.
	// +optional
	Message string `json:"message,omitempty"`
	// CurrentSize is the size of the volume on the node.
	// +optional
	CurrentSize *resource.Quantity `json:"currentSize,omitempty"`
	// CapacityRevision is the first revision of the node's capacity
	// annotations that counts this volume (at its current size); the
	// scheduler extender subtracts the volume itself until the Node shows
	// it. The node plugin sets it in the same status write as volumeID and,
	// after a resize, as currentSize; 0 means no revision was published.
	// +optional
	CapacityRevision int64 `json:"capacityRevision,omitempty"`
}

// LogicalVolume is one volume on one node.
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=lv;lvs
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Driver",type=string,JSONPath=`.spec.driverName`
// +kubebuilder:printcolumn:name="Node",type=string,JSONPath=`.spec.nodeName`
// +kubebuilder:printcolumn:name="Class",type=string,JSONPath=`.spec.deviceClass`
// +kubebuilder:printcolumn:name="Size",type=string,JSONPath=`.spec.size`
// +kubebuilder:printcolumn:name="Current",type=string,JSONPath=`.status.currentSize`
// +kubebuilder:printcolumn:name="Volume",type=string,JSONPath=`.status.volumeID`
// +kubebuilder:printcolumn:name="Code",type=string,JSONPath=`.status.code`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:selectablefield:JSONPath=`.spec.nodeName`
// +kubebuilder:selectablefield:JSONPath=`.spec.driverName`
type LogicalVolume struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   LogicalVolumeSpec   `json:"spec,omitempty"`
	Status LogicalVolumeStatus `json:"status,omitempty"`
}

// LogicalVolumeList is a list of LogicalVolumes.
// +kubebuilder:object:root=true
type LogicalVolumeList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []LogicalVolume `json:"items"`
}

// Finalizer is the finalizer of a driver's LogicalVolumes: the controller
// sets it at creation (so the node need not write it), and the node removes
// it once the volume is gone from the disk.
func Finalizer(driver string) string { return driver + "/logicalvolume" }
