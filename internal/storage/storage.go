// Package storage holds the domain types that both storage daemons (lvmd and
// btrfsd) speak: volumes, capacity, requests, and the kinds of error that
// the gRPC layer turns into status codes. Domain code returns these errors
// and never imports grpc.
package storage

// Health says whether a volume can be used as is.
type Health int

const (
	HealthUnknown Health = iota
	HealthHealthy
	// HealthAbnormal: the volume exists but is damaged or partial; the
	// volume's HealthMessage says why.
	HealthAbnormal
)

// Volume is a logical volume or a subvolume.
type Volume struct {
	Name  string
	Class string
	// SizeBytes is the real size after rounding to the backend's unit.
	SizeBytes int64
	// Path is the device or directory holding the data; empty when inactive.
	Path          string
	Health        Health
	HealthMessage string
	// Source is the origin of a snapshot.
	Source   string
	Snapshot bool
	ReadOnly bool
	// UsedBytes is known only to some backends (btrfs qgroups, thin LVs).
	UsedBytes *int64
	Tags      []string
	// OwnerUID is the UID of the object the volume belongs to; empty when
	// it records none.
	OwnerUID string
}

// CreateRequest asks for a new volume.
type CreateRequest struct {
	Name         string
	Class        string
	SizeBytes    int64
	OptionsClass string
	// OwnerUID is recorded on the new volume (see Claim); a volume of that
	// name that belongs to another object is ErrOwnedByAnother.
	OwnerUID string
}

// SnapshotRequest asks for a snapshot of an existing volume.
type SnapshotRequest struct {
	Name   string
	Class  string
	Source string
	// SizeBytes: zero means the source's size (thin LVM and btrfs).
	SizeBytes int64
	ReadOnly  bool
	// OwnerUID is recorded on the snapshot, as for CreateRequest.
	OwnerUID string
}

// ThinPool describes the thin pool behind an LVM thin class.
type ThinPool struct {
	Name               string
	SizeBytes          int64
	DataPercent        float64
	MetadataPercent    float64
	OverprovisionRatio float64
	VirtualBytes       int64
}

// ClassCapacity is the capacity of one device class.
type ClassCapacity struct {
	Name    string
	Default bool
	// SizeBytes is the size of what backs the class.
	SizeBytes int64
	// AvailableBytes is the largest volume the class can take now; never negative.
	AvailableBytes int64
	ThinPool       *ThinPool
	// OptionsClassAvailable is the largest volume per options class.
	OptionsClassAvailable map[string]int64
}

// Capacity is the capacity of every class of a daemon, in config order.
type Capacity []ClassCapacity
