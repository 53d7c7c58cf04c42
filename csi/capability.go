package csi

import (
	"slices"
	"strings"

	"github.com/container-storage-interface/spec/lib/go/csi"
)

// singleNode are the access modes of a node-local volume.
var singleNode = map[csi.VolumeCapability_AccessMode_Mode]bool{
	csi.VolumeCapability_AccessMode_SINGLE_NODE_WRITER:        true,
	csi.VolumeCapability_AccessMode_SINGLE_NODE_READER_ONLY:   true,
	csi.VolumeCapability_AccessMode_SINGLE_NODE_SINGLE_WRITER: true,
	csi.VolumeCapability_AccessMode_SINGLE_NODE_MULTI_WRITER:  true,
}

// checkCapability returns why the driver cannot serve c, or "" when it can.
func (d Driver) checkCapability(c *csi.VolumeCapability) string {
	if c == nil {
		return "volume capability is missing"
	}
	if m := c.GetAccessMode(); m == nil || !singleNode[m.GetMode()] {
		return "access mode " + c.GetAccessMode().GetMode().String() + " is not supported: volumes are local to one node"
	}
	switch t := c.GetAccessType().(type) {
	case *csi.VolumeCapability_Block:
		if !d.Block {
			return "raw block volumes are not supported by " + d.Name
		}
	case *csi.VolumeCapability_Mount:
		if fs := t.Mount.GetFsType(); fs != "" && !slices.Contains(d.FSTypes, fs) {
			return "filesystem " + fs + " is not supported by " + d.Name + " (supported: " + strings.Join(d.FSTypes, ", ") + ")"
		}
	default:
		return "access type must be block or mount"
	}
	return ""
}

// checkCapabilities checks every capability; "" when all can be served.
func (d Driver) checkCapabilities(cs []*csi.VolumeCapability) string {
	if len(cs) == 0 {
		return "volume capabilities are missing"
	}
	for _, c := range cs {
		if why := d.checkCapability(c); why != "" {
			return why
		}
	}
	return ""
}

// fsType returns the filesystem the capabilities ask for ("" for block).
func (d Driver) fsType(cs []*csi.VolumeCapability) string {
	for _, c := range cs {
		if m := c.GetMount(); m != nil {
			if m.GetFsType() != "" {
				return m.GetFsType()
			}
			return d.FSTypes[0]
		}
	}
	return ""
}
