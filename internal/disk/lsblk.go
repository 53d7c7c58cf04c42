package disk

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Device is one block device as lsblk reports it. Sizes are in bytes, paths
// are absolute (lsblk --paths).
type Device struct {
	Path       string `json:"path"`
	KernelName string `json:"kernelName,omitempty"`
	// DevNum is "major:minor", the identity that LVM reports too.
	DevNum    string `json:"devNum"`
	Type      string `json:"type"`
	Size      int64  `json:"size"`
	ReadOnly  bool   `json:"readOnly"`
	Removable bool   `json:"removable"`
	// MountPoints lists where the device is mounted; "[SWAP]" for swap.
	MountPoints []string `json:"mountPoints,omitempty"`
	// FSType and PTType come from the udev database and are empty on hosts
	// without udev; signatures (wipefs) are the reliable source.
	FSType string `json:"fsType,omitempty"`
	PTType string `json:"ptType,omitempty"`
	Parent string `json:"parent,omitempty"`
	Model  string `json:"model,omitempty"`
	Serial string `json:"serial,omitempty"`
	// Children are the devices built on this one: partitions, or holders
	// such as device-mapper and md devices.
	Children []Child `json:"children,omitempty"`
}

// Child is a device built on another one.
type Child struct {
	Path string `json:"path"`
	Type string `json:"type"`
	// MountPoints are the child's own and those of its descendants, so that
	// a disk knows a partition of a partition is mounted.
	MountPoints []string `json:"mountPoints,omitempty"`
}

// lsblkColumns are the columns List asks for. MOUNTPOINTS (every mount, as
// an array) needs util-linux 2.37; older versions get MOUNTPOINT instead.
var (
	lsblkColumns       = "NAME,KNAME,MAJ:MIN,TYPE,SIZE,RO,RM,MOUNTPOINTS,FSTYPE,PTTYPE,PKNAME,MODEL,SERIAL"
	lsblkColumnsLegacy = strings.Replace(lsblkColumns, "MOUNTPOINTS", "MOUNTPOINT", 1)
)

type lsblkOutput struct {
	BlockDevices []lsblkDevice `json:"blockdevices"`
}

type lsblkDevice struct {
	Name        jsonString    `json:"name"`
	KName       jsonString    `json:"kname"`
	MajMin      jsonString    `json:"maj:min"`
	Type        jsonString    `json:"type"`
	Size        jsonInt       `json:"size"`
	RO          jsonBool      `json:"ro"`
	RM          jsonBool      `json:"rm"`
	MountPoints []*string     `json:"mountpoints"`
	MountPoint  jsonString    `json:"mountpoint"`
	FSType      jsonString    `json:"fstype"`
	PTType      jsonString    `json:"pttype"`
	PKName      jsonString    `json:"pkname"`
	Model       jsonString    `json:"model"`
	Serial      jsonString    `json:"serial"`
	Children    []lsblkDevice `json:"children"`
}

// ParseLsblk parses `lsblk --json --bytes --paths --output <lsblkColumns>`
// and flattens lsblk's tree: every device appears once, parents before their
// children. A device with several parents (an LV spanning two disks) is
// listed under each of them by lsblk and kept once here.
func ParseLsblk(out []byte) ([]Device, error) {
	var o lsblkOutput
	if err := json.Unmarshal(out, &o); err != nil {
		return nil, fmt.Errorf("parse lsblk output: %w", err)
	}
	f := flattener{seen: map[string]int{}}
	for _, d := range o.BlockDevices {
		if _, err := f.add(d, "", 0); err != nil {
			return nil, err
		}
	}
	return f.devices, nil
}

// maxDepth bounds recursion on hostile input; real trees are a few levels.
const maxDepth = 32

type flattener struct {
	devices []Device
	seen    map[string]int
}

// add records d and then its subtree (pre-order, so parents come first)
// and returns every mount point in that subtree.
func (f *flattener) add(d lsblkDevice, parent string, depth int) ([]string, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("parse lsblk output: device tree deeper than %d levels", maxDepth)
	}
	path := string(d.Name)
	if path == "" {
		return nil, fmt.Errorf("parse lsblk output: device without a name")
	}
	if d.Size < 0 {
		return nil, fmt.Errorf("parse lsblk output: %s has a negative size", path)
	}
	if i, ok := f.seen[path]; ok {
		// Listed under another parent too: lsblk prints the same subtree.
		return f.subtreeMounts(i), nil
	}
	dev := Device{
		Path:        path,
		KernelName:  string(d.KName),
		DevNum:      string(d.MajMin),
		Type:        string(d.Type),
		Size:        int64(d.Size),
		ReadOnly:    bool(d.RO),
		Removable:   bool(d.RM),
		MountPoints: mountPoints(d),
		FSType:      string(d.FSType),
		PTType:      string(d.PTType),
		Parent:      string(d.PKName),
		Model:       strings.TrimSpace(string(d.Model)),
		Serial:      strings.TrimSpace(string(d.Serial)),
	}
	if dev.Parent == "" {
		dev.Parent = parent
	}
	idx := len(f.devices)
	f.seen[path] = idx
	f.devices = append(f.devices, dev)
	all := append([]string(nil), dev.MountPoints...)
	var children []Child
	for _, c := range d.Children {
		mps, err := f.add(c, path, depth+1)
		if err != nil {
			return nil, err
		}
		children = append(children, Child{Path: string(c.Name), Type: string(c.Type), MountPoints: mps})
		all = append(all, mps...)
	}
	f.devices[idx].Children = children
	return all, nil
}

func (f *flattener) subtreeMounts(i int) []string {
	d := f.devices[i]
	all := append([]string(nil), d.MountPoints...)
	for _, c := range d.Children {
		all = append(all, c.MountPoints...)
	}
	return all
}

func mountPoints(d lsblkDevice) []string {
	var out []string
	for _, m := range d.MountPoints {
		if m != nil && *m != "" {
			out = append(out, *m)
		}
	}
	if len(out) == 0 && d.MountPoint != "" {
		out = append(out, string(d.MountPoint))
	}
	return out
}
