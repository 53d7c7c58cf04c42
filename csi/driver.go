package csi

import (
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Driver is what differs between the suite's two CSI drivers.
type Driver struct {
	// Name is the CSI driver name, e.g. topolvm.io or topols.io.
	Name string
	// TopologyKey is the node label that places volumes, e.g.
	// topology.topolvm.io/node.
	TopologyKey string
	// Block says whether raw block volumes are offered (LVM: yes; btrfs
	// subvolumes are directories: no).
	Block bool
	// FSTypes are the filesystems a Mount volume may ask for; the first is
	// the default. For TopoLS it is only btrfs: the volume is a directory of it.
	FSTypes []string
	// MinSizes are the smallest volumes each filesystem can be made on.
	MinSizes map[string]int64
	// DefaultSize is the size of a volume created without a capacity range.
	DefaultSize int64
}

const (
	mib = int64(1) << 20
	gib = int64(1) << 30
)

// LVMDriver is TopoLVM's profile under the given driver name.
func LVMDriver(name string) Driver {
	return Driver{
		Name: name, TopologyKey: "topology." + name + "/node", Block: true,
		FSTypes: []string{"ext4", "xfs", "btrfs"},
		// mkfs.xfs refuses filesystems under 300 MiB; btrfs needs ~114 MiB.
		MinSizes:    map[string]int64{"ext4": 4 * mib, "xfs": 300 * mib, "btrfs": 128 * mib, "": 4 * mib},
		DefaultSize: gib,
	}
}

// BtrfsDriver is TopoLS's profile under the given driver name.
func BtrfsDriver(name string) Driver {
	return Driver{
		Name: name, TopologyKey: "topology." + name + "/node",
		FSTypes:     []string{"btrfs"},
		MinSizes:    map[string]int64{"btrfs": 4096, "": 4096},
		DefaultSize: gib,
	}
}

// Parameter keys of StorageClasses and inline volume attributes. The
// device class and options class keys are prefixed with the driver name
// (topolvm.io/device-class), as upstream TopoLVM names them.
const (
	ParamDeviceClass  = "device-class"
	ParamOptionsClass = "lvcreate-option-class"
	// ParamSize is the size of a CSI inline ephemeral volume ("1Gi").
	ParamSize = "size"
	// ParamEphemeral is set by the kubelet on inline ephemeral volumes.
	ParamEphemeral = "csi.storage.k8s.io/ephemeral"
)

// Param returns the full key of a driver-prefixed parameter.
func (d Driver) Param(key string) string { return d.Name + "/" + key }

// defaultClassKey stands for class "" in capacity annotation keys.
const defaultClassKey = "00default"

// CapacityAnnotation is the Node annotation holding a class's free bytes;
// class "" is the node's default class.
func (d Driver) CapacityAnnotation(class string) string {
	if class == "" {
		class = defaultClassKey
	}
	return d.CapacityAnnotationPrefix() + class
}

// CapacityClass is CapacityAnnotation's inverse: the class a key stands
// for, and whether it is a capacity annotation of d at all.
func (d Driver) CapacityClass(key string) (string, bool) {
	class, ok := strings.CutPrefix(key, d.CapacityAnnotationPrefix())
	if class == defaultClassKey {
		class = ""
	}
	return class, ok
}

// OptionsCapacityAnnotationPrefix starts the annotations of the capacity of
// a class for volumes made with an lvcreate options class (RAID, stripes):
// the largest such volume, which takes more than its size. They have a
// prefix of their own, apart from CapacityAnnotationPrefix, so that no
// device class name can be read as one, nor one as a device class.
func (d Driver) OptionsCapacityAnnotationPrefix() string { return "options-capacity." + d.Name + "/" }

// CapacityKey is the annotation of the capacity of class for volumes made
// with lvcreate options class options: CapacityAnnotation(class) for none
// (""), else OptionsCapacityAnnotationPrefix + <class>.<options>. The last
// dot separates them, so an options class name must have none; ok is
// false when it has, or the key is not a valid annotation key (too long):
// such a figure is never published, and no node has room for such volumes.
func (d Driver) CapacityKey(class, options string) (key string, ok bool) {
	if options == "" {
		return d.CapacityAnnotation(class), true
	}
	if class == "" {
		class = defaultClassKey
	}
	key = d.OptionsCapacityAnnotationPrefix() + class + "." + options
	return key, !strings.Contains(options, ".") && len(validation.IsQualifiedName(key)) == 0
}

// ParseCapacityKey is CapacityKey's inverse: the class and options class
// a key stands for, and whether it is a capacity annotation of d at all.
func (d Driver) ParseCapacityKey(key string) (class, options string, ok bool) {
	if class, ok := d.CapacityClass(key); ok {
		return class, "", true
	}
	rest, ok := strings.CutPrefix(key, d.OptionsCapacityAnnotationPrefix())
	i := strings.LastIndexByte(rest, '.')
	if !ok || i <= 0 || i == len(rest)-1 {
		return "", "", false
	}
	class, options = rest[:i], rest[i+1:]
	if class == defaultClassKey {
		class = ""
	}
	return class, options, true
}

// ParseCapacity reads a capacity annotation's value: a number of bytes.
func ParseCapacity(v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a number of bytes", v)
	}
	return n, nil
}

// CapacityAnnotationPrefix starts every capacity annotation of the driver
// for volumes made without an options class (see CapacityKey). The same
// keys on a Pod (set by the pod webhook) hold the bytes the pod still needs
// of each class, for the scheduler extender.
func (d Driver) CapacityAnnotationPrefix() string { return "capacity." + d.Name + "/" }

// CapacityRevisionAnnotation is the Node annotation that numbers the node's
// capacity annotations: it grows with every write, and a LogicalVolume's
// status.capacityRevision names the first revision that counts the volume.
// Until the Node shows that revision, the scheduler extender subtracts the
// volume itself, so a burst never sees free space that is already taken.
func (d Driver) CapacityRevisionAnnotation() string { return d.Name + "/capacity-revision" }

// CapacityResource is the extended resource the pod webhook adds (quantity
// 1) to a pod that needs capacity of the driver: kube-scheduler sends only
// such pods to the extender (managedResources) and ignores the resource
// itself (ignoredByScheduler); the kubelet drops extended resources no
// node advertises.
func (d Driver) CapacityResource() string { return d.Name + "/capacity" }

// ShortName is the driver name up to its first dot (topolvm, topols).
func (d Driver) ShortName() string {
	n, _, _ := strings.Cut(d.Name, ".")
	return n
}
