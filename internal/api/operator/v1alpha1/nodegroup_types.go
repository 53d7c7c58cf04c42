package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
)

// NodeGroup is a set of nodes (by label) and the storage each of them
// builds and serves. Every node of the group gets the same configuration;
// devices chosen by a selector are resolved per node from what the node
// reports.
// +kubebuilder:validation:XValidation:rule="!has(self.deviceClasses) || self.deviceClasses.filter(c, has(c.default) && c.default).size() <= 1",message="two device classes are the default"
// +kubebuilder:validation:XValidation:rule="!has(self.pools) || self.pools.filter(p, has(p.default) && p.default).size() <= 1",message="two pools are the default"
// +kubebuilder:validation:XValidation:rule="!has(self.deviceClasses) || self.deviceClasses.all(c, has(self.volumeGroups) && self.volumeGroups.exists(v, v.name == c.volumeGroup))",message="a device class names a volume group the node group does not declare"
// +kubebuilder:validation:XValidation:rule="!has(self.volumeGroups) || self.volumeGroups.all(v, !has(v.devices) || self.volumeGroups.all(o, o.name == v.name || !has(o.devices) || v.devices.all(d, !(d in o.devices))))",message="a device is claimed by two volume groups"
// +kubebuilder:validation:XValidation:rule="!has(self.pools) || self.pools.all(p, !has(p.devices) || self.pools.all(o, o.name == p.name || !has(o.devices) || p.devices.all(d, !(d in o.devices))))",message="a device is claimed by two pools"
// +kubebuilder:validation:XValidation:rule="!has(self.pools) || !has(self.volumeGroups) || self.pools.all(p, !has(p.devices) || self.volumeGroups.all(v, !has(v.devices) || p.devices.all(d, !(d in v.devices))))",message="a device is claimed by a volume group and a pool"
type NodeGroup struct {
	// Name of the group: the suffix of its DaemonSets' names.
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([a-z0-9-]{0,18}[a-z0-9])?$`
	// +kubebuilder:validation:MaxLength=20
	Name string `json:"name"`
	// NodeSelector chooses the group's nodes by label; empty: every node
	// (then it must be the only group).
	// +kubebuilder:default={}
	// +kubebuilder:validation:MaxProperties=8
	// +optional
	NodeSelector map[string]string `json:"nodeSelector"`
	// VolumeGroups the nodes build (lvmd prepare) or adopt.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=4
	// +optional
	VolumeGroups []VolumeGroup `json:"volumeGroups,omitempty"`
	// DeviceClasses served by lvmd on these nodes (TopoLVM), each on one of
	// the volume groups.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=16
	// +optional
	DeviceClasses []DeviceClass `json:"deviceClasses,omitempty"`
	// Pools served by btrfsd on these nodes (TopoLS).
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=4
	// +optional
	Pools []Pool `json:"pools,omitempty"`
}

// WipePolicy says whether a device that holds a filesystem or another
// signature may be wiped to use it. Mounted devices, devices in use and PVs
// of other volume groups are never touched whatever the policy.
type WipePolicy string

// The wipe policies.
const (
	// WipeNever refuses a device that holds anything (the default).
	WipeNever WipePolicy = "Never"
	// WipeSignatures erases filesystem, partition-table and other
	// signatures (wipefs --all, never forced) before using the device.
	WipeSignatures WipePolicy = "Signatures"
)

// VolumeGroup is an LVM volume group the nodes build from devices, grow
// when devices are added, or adopt as it is.
// +kubebuilder:validation:XValidation:rule="!self.adopt || (!has(self.devices) && !has(self.deviceSelector))",message="an adopted volume group is used as it is: no devices or deviceSelector"
// +kubebuilder:validation:XValidation:rule="self.adopt || has(self.devices) || has(self.deviceSelector)",message="a volume group needs devices, a deviceSelector, or adopt: true"
type VolumeGroup struct {
	// Name of the LVM volume group.
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9+_.][A-Za-z0-9+_.-]{0,62}$`
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`
	// Adopt uses an existing volume group as it is: the operator never
	// creates, extends or touches its physical volumes.
	// +kubebuilder:default=false
	// +optional
	Adopt bool `json:"adopt"`
	// Devices to build the volume group from, by path (e.g.
	// /dev/disk/by-id/...). Adding one grows the volume group; removing one
	// leaves it in place (that is a decision for a person).
	// +listType=set
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:Pattern=`^/dev/[^\s]+$`
	// +kubebuilder:validation:items:MaxLength=128
	// +optional
	Devices []string `json:"devices,omitempty"`
	// DeviceSelector adds, per node, the free devices the node discovered
	// that match it. Without it, discovered devices are only reported.
	// +optional
	DeviceSelector *DeviceSelector `json:"deviceSelector,omitempty"`
	// WipePolicy: Never (default) or Signatures.
	// +kubebuilder:validation:Enum=Never;Signatures
	// +kubebuilder:default=Never
	// +optional
	WipePolicy WipePolicy `json:"wipePolicy,omitempty"`
	// MinDeviceSize: smaller devices are refused (default 1Gi).
	// +optional
	MinDeviceSize *resource.Quantity `json:"minDeviceSize,omitempty"`
}

// DeviceClass is one lvmd device class on one of the group's volume groups.
// +kubebuilder:validation:XValidation:rule="!has(self.thinPool) || !has(self.stripes)",message="stripes apply to thick classes only"
type DeviceClass struct {
	// Name of the class (StorageClass parameter topolvm.io/device-class).
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$`
	// +kubebuilder:validation:MaxLength=32
	Name string `json:"name"`
	// Default marks the class used when a StorageClass names none.
	// +optional
	Default bool `json:"default,omitempty"`
	// VolumeGroup is the name of one of the group's volumeGroups.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	VolumeGroup string `json:"volumeGroup"`
	// Spare is kept free in the volume group (thick classes).
	// +optional
	Spare *resource.Quantity `json:"spare,omitempty"`
	// Stripes and StripeSize of thick volumes.
	// +kubebuilder:validation:Minimum=2
	// +optional
	Stripes *int32 `json:"stripes,omitempty"`
	// +optional
	StripeSize *resource.Quantity `json:"stripeSize,omitempty"`
	// ThinPool makes this a thin class.
	// +optional
	ThinPool *ThinPool `json:"thinPool,omitempty"`
	// LVCreateOptionClasses are named lvcreate option sets (RAID), chosen
	// per StorageClass.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=8
	// +optional
	LVCreateOptionClasses []LVCreateOptionClass `json:"lvcreateOptionClasses,omitempty"`
	// StorageClass made for this class.
	// +optional
	StorageClass *StorageClass `json:"storageClass,omitempty"`
}

// ThinPool is a thin pool in the class's volume group.
type ThinPool struct {
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// OverprovisionRatio: thin volumes may add up to this many times the
	// pool's size (at least 1).
	// +kubebuilder:validation:Minimum=1
	OverprovisionRatio int32 `json:"overprovisionRatio"`
}

// LVCreateOptionClass is a named set of lvcreate options.
type LVCreateOptionClass struct {
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// +kubebuilder:validation:MinItems=1
	Options []string `json:"options"`
}

// DeviceSelector chooses discovered free devices. Every set field must
// match. The glob rules accept what Go's path.Match accepts except odd
// ranges such as [a-]; those and sizes (minSize above maxSize, negative)
// the operator reports as RenderFailed (CEL on quantities without a length
// bound exceeds the API server's cost budget).
// +kubebuilder:validation:XValidation:rule="has(self.minSize) || has(self.maxSize) || has(self.rotational) || has(self.model) || has(self.byIDPattern)",message="an empty deviceSelector would take every free device; name at least one criterion"
// +kubebuilder:validation:XValidation:rule=`!has(self.model) || self.model.matches(r'^([^\[\\]|\\.|\[\^?(\\.|[^\]\\])+\])*$')`,message="model is not a valid glob: a [ without its ], an empty [], or a trailing \\"
// +kubebuilder:validation:XValidation:rule=`!has(self.byIDPattern) || self.byIDPattern.matches(r'^([^\[\\/]|\\.|\[\^?(\\.|[^\]\\])+\])*$')`,message="byIDPattern is not a valid glob on a /dev/disk/by-id base name: a /, a [ without its ], an empty [], or a trailing \\"
type DeviceSelector struct {
	// MinSize: smaller devices do not match.
	// +optional
	MinSize *resource.Quantity `json:"minSize,omitempty"`
	// MaxSize: larger devices do not match.
	// +optional
	MaxSize *resource.Quantity `json:"maxSize,omitempty"`
	// Rotational: true for spinning disks, false for SSDs and NVMe.
	// +optional
	Rotational *bool `json:"rotational,omitempty"`
	// Model is a shell glob on the device's model.
	// +kubebuilder:validation:MaxLength=128
	// +optional
	Model string `json:"model,omitempty"`
	// ByIDPattern is a shell glob on one of the device's /dev/disk/by-id
	// names (the base name, e.g. nvme-Samsung*).
	// +kubebuilder:validation:MaxLength=128
	// +optional
	ByIDPattern string `json:"byIDPattern,omitempty"`
}

// StorageClass says how the operator makes a StorageClass for a device
// class or pool (one per name, across node groups).
type StorageClass struct {
	// Name of the StorageClass; default topolvm-<class> or topols-<pool>.
	// +optional
	Name string `json:"name,omitempty"`
	// FSType: ext4 or xfs for LVM, btrfs for TopoLS.
	// +kubebuilder:validation:Enum=ext4;xfs;btrfs
	// +optional
	FSType string `json:"fsType,omitempty"`
	// IsDefault makes it the cluster's default StorageClass.
	// +optional
	IsDefault bool `json:"isDefault,omitempty"`
	// ReclaimPolicy of the PersistentVolumes.
	// +kubebuilder:validation:Enum=Delete;Retain
	// +optional
	ReclaimPolicy string `json:"reclaimPolicy,omitempty"`
}

// Pool is one btrfs pool served by btrfsd.
// +kubebuilder:validation:XValidation:rule="!self.adopt || !has(self.devices)",message="an adopted pool is used as it is: no devices"
// +kubebuilder:validation:XValidation:rule="self.adopt || has(self.devices)",message="a pool needs devices or adopt: true"
type Pool struct {
	// Name of the pool (StorageClass parameter topols.io/device-class).
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$`
	// +kubebuilder:validation:MaxLength=32
	Name string `json:"name"`
	// +optional
	Default bool `json:"default,omitempty"`
	// Path where the filesystem is mounted on the host; default
	// /var/lib/topols/<name>.
	// +kubebuilder:validation:Pattern=`^/[^\s]*$`
	// +optional
	Path string `json:"path,omitempty"`
	// Adopt serves an existing btrfs filesystem mounted at Path as it is.
	// +kubebuilder:default=false
	// +optional
	Adopt bool `json:"adopt"`
	// Devices to make the filesystem from.
	// +listType=set
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:Pattern=`^/dev/[^\s]+$`
	// +kubebuilder:validation:items:MaxLength=128
	// +optional
	Devices []string `json:"devices,omitempty"`
	// WipePolicy: Never (default) or Signatures.
	// +kubebuilder:validation:Enum=Never;Signatures
	// +kubebuilder:default=Never
	// +optional
	WipePolicy WipePolicy `json:"wipePolicy,omitempty"`
	// DataProfile and MetadataProfile of mkfs.btrfs (several devices).
	// +kubebuilder:validation:Enum=single;raid0;raid1;raid10;dup
	// +optional
	DataProfile string `json:"dataProfile,omitempty"`
	// +kubebuilder:validation:Enum=single;raid0;raid1;raid10;dup
	// +optional
	MetadataProfile string `json:"metadataProfile,omitempty"`
	// Budget caps the sum of volume sizes; default: the filesystem size.
	// +optional
	Budget *resource.Quantity `json:"budget,omitempty"`
	// Spare is filesystem space never handed out.
	// +optional
	Spare *resource.Quantity `json:"spare,omitempty"`
	// StorageClass made for this pool.
	// +optional
	StorageClass *StorageClass `json:"storageClass,omitempty"`
}
