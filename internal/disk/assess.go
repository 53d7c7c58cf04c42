package disk

import (
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// ReasonCode says in one word why a device is not free.
type ReasonCode string

// Reason codes, in the order Assess reports them.
const (
	// ReasonExcludedType: a loop device, RAM disk or optical drive that the
	// caller did not ask to include.
	ReasonExcludedType ReasonCode = "excludedType"
	// ReasonEmpty: the device has no capacity (no medium).
	ReasonEmpty ReasonCode = "empty"
	// ReasonTooSmall: smaller than the minimum size asked for.
	ReasonTooSmall ReasonCode = "tooSmall"
	// ReasonReadOnly: the kernel has the device read-only.
	ReasonReadOnly ReasonCode = "readOnly"
	// ReasonMounted: the device, or a partition of it, is mounted or swap.
	ReasonMounted ReasonCode = "mounted"
	// ReasonInUse: a device-mapper or md device is built on it.
	ReasonInUse ReasonCode = "inUse"
	// ReasonPartitioned: it has a partition table or partitions.
	ReasonPartitioned ReasonCode = "partitioned"
	// ReasonLVMPhysicalVolume: it is an LVM physical volume.
	ReasonLVMPhysicalVolume ReasonCode = "lvmPhysicalVolume"
	// ReasonFilesystem: it holds a filesystem.
	ReasonFilesystem ReasonCode = "filesystem"
	// ReasonSignature: another signature (swap, RAID member, encryption...).
	ReasonSignature ReasonCode = "signature"
	// ReasonProbeFailed: its signatures could not be read.
	ReasonProbeFailed ReasonCode = "probeFailed"
)

// Reason is one thing that keeps a device from being free.
type Reason struct {
	Code    ReasonCode `json:"code"`
	Message string     `json:"message"`
}

func (r Reason) String() string { return r.Message }

// Criteria are what the caller asks of a free device.
type Criteria struct {
	// MinSize in bytes; smaller devices are not free.
	MinSize int64
	// Loop devices, RAM disks (ram, zram) and optical drives are not disks
	// to build storage on, so they are excluded unless asked for.
	IncludeLoop bool
	IncludeRAM  bool
	IncludeROM  bool
}

// Kind returns "loop", "ram", "rom" or "" for other devices.
func (d Device) Kind() string {
	base := d.KernelName
	if base == "" {
		base = d.Path
	}
	base = base[strings.LastIndexByte(base, '/')+1:]
	switch {
	case d.Type == "loop":
		return "loop"
	case d.Type == "rom":
		return "rom"
	case strings.HasPrefix(base, "ram") || strings.HasPrefix(base, "zram") || strings.HasPrefix(d.DevNum, "1:"):
		// Major 1 is the kernel's RAM disk driver; zram has a dynamic major.
		return "ram"
	}
	return ""
}

// Assess returns every reason why the device is not free under c; none
// means it is free to become a physical volume.
func Assess(i Info, c Criteria) []Reason {
	var rs []Reason
	add := func(code ReasonCode, format string, args ...any) {
		rs = append(rs, Reason{Code: code, Message: fmt.Sprintf(format, args...)})
	}
	switch k := i.Kind(); {
	case k == "loop" && !c.IncludeLoop:
		add(ReasonExcludedType, "is a loop device; loop devices are excluded unless asked for")
	case k == "ram" && !c.IncludeRAM:
		add(ReasonExcludedType, "is a RAM disk; RAM disks are excluded unless asked for")
	case k == "rom" && !c.IncludeROM:
		add(ReasonExcludedType, "is an optical drive; optical drives are excluded unless asked for")
	}
	switch {
	case i.Size == 0:
		add(ReasonEmpty, "has no capacity (no medium, or nothing attached)")
	case i.Size < c.MinSize:
		add(ReasonTooSmall, "is %s, smaller than the minimum of %s", FormatSize(i.Size), FormatSize(c.MinSize))
	}
	if i.ReadOnly {
		add(ReasonReadOnly, "is read-only")
	}
	if len(i.MountPoints) > 0 {
		add(ReasonMounted, "is %s", describeMounts(i.MountPoints))
	}
	var parts, holders []string
	for _, ch := range i.Children {
		if ch.Type == "part" {
			parts = append(parts, ch.Path)
		} else {
			holders = append(holders, fmt.Sprintf("%s (%s)", ch.Path, ch.Type))
		}
		if len(ch.MountPoints) > 0 {
			add(ReasonMounted, "has %s built on it, which is %s", ch.Path, describeMounts(ch.MountPoints))
		}
	}
	if len(holders) > 0 {
		add(ReasonInUse, "is used by %s", strings.Join(holders, ", "))
	}
	assessContent(i, parts, add)
	if i.ProbeError != "" {
		add(ReasonProbeFailed, "its signatures could not be read: %s", i.ProbeError)
	}
	return rs
}

// assessContent reports what the device holds: partitions, an LVM physical
// volume, filesystems and other signatures. lsblk's FSTYPE and PTTYPE are
// used too, for hosts with udev where they may know more than a failed probe.
func assessContent(i Info, parts []string, add func(ReasonCode, string, ...any)) {
	ptTypes := []string{}
	lvmSig := false
	for _, s := range i.Signatures {
		switch {
		case s.Usage == UsagePartitionTable:
			ptTypes = appendNew(ptTypes, s.Type)
		case s.Type == TypeLVM2Member:
			lvmSig = true
		case s.Usage == UsageFilesystem:
			add(ReasonFilesystem, "has a filesystem (%s%s)", s.Type, labelSuffix(s.Label))
		default:
			add(ReasonSignature, "has a signature of type %s (%s)", s.Type, orUnknown(s.Usage))
		}
	}
	if i.PTType != "" {
		ptTypes = appendNew(ptTypes, i.PTType)
	}
	switch {
	case len(ptTypes) > 0 && len(parts) > 0:
		add(ReasonPartitioned, "has a partition table (%s) and partitions %s", strings.Join(ptTypes, "+"), strings.Join(parts, ", "))
	case len(ptTypes) > 0:
		add(ReasonPartitioned, "has a partition table (%s)", strings.Join(ptTypes, "+"))
	case len(parts) > 0:
		add(ReasonPartitioned, "has partitions %s", strings.Join(parts, ", "))
	}
	if i.FSType == TypeLVM2Member {
		lvmSig = true
	}
	switch {
	case i.PV != nil && i.PV.VolumeGroup != "":
		add(ReasonLVMPhysicalVolume, "is an LVM physical volume of volume group %s", i.PV.VolumeGroup)
	case i.PV != nil:
		add(ReasonLVMPhysicalVolume, "is an LVM physical volume in no volume group")
	case lvmSig:
		add(ReasonLVMPhysicalVolume, "has an LVM physical volume signature, but LVM does not report it (its device filter may hide it)")
	}
	if i.FSType != "" && i.FSType != TypeLVM2Member && !hasSignature(i.Signatures, i.FSType) {
		add(ReasonFilesystem, "has a filesystem (%s, from the udev database)", i.FSType)
	}
}

func describeMounts(mps []string) string {
	var mounted []string
	swap := false
	for _, m := range mps {
		if m == "[SWAP]" {
			swap = true
		} else {
			mounted = append(mounted, m)
		}
	}
	switch {
	case swap && len(mounted) > 0:
		return "in use as swap and mounted at " + strings.Join(mounted, ", ")
	case swap:
		return "in use as swap"
	}
	return "mounted at " + strings.Join(mounted, ", ")
}

func hasSignature(sigs []Signature, typ string) bool {
	for _, s := range sigs {
		if s.Type == typ {
			return true
		}
	}
	return false
}

func appendNew(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

func labelSuffix(label string) string {
	if label == "" {
		return ""
	}
	return fmt.Sprintf(", labelled %q", label)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown use"
	}
	return s
}

// FormatSize renders bytes for messages: binary units and the exact count.
func FormatSize(n int64) string {
	q := resource.NewQuantity(n, resource.BinarySI).String()
	if q == strconv.FormatInt(n, 10) {
		return q + " bytes"
	}
	return fmt.Sprintf("%s (%d bytes)", q, n)
}
