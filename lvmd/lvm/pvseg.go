package lvm

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// PVSegment is a run of extents of a physical volume, free or used by one LV.
type PVSegment struct {
	PV string
	VG string
	LV string // empty for free space
	// Tags are the tags of LV.
	Tags []string
	// Allocatable is false for a PV LVM may not allocate from
	// (pvchange --allocatable n).
	Allocatable bool
	// Start and Extents locate the run in extents of ExtentSize bytes,
	// counted from PEStart, the byte where the PV's first extent begins.
	Start, Extents      int64
	PEStart, ExtentSize int64
	// Offset and Size locate the run on the PV device, in bytes:
	// PEStart + Start x ExtentSize, and Extents x ExtentSize.
	Offset, Size int64
}

const pvsegFields = "pv_name,pv_attr,vg_name,vg_extent_size,pe_start,pvseg_start,pvseg_size,lv_name,lv_tags"

type jsonPVSegReport struct {
	Report []struct {
		PVSeg []struct {
			PV         string `json:"pv_name"`
			Attr       string `json:"pv_attr"`
			VG         string `json:"vg_name"`
			ExtentSize string `json:"vg_extent_size"`
			PEStart    string `json:"pe_start"`
			Start      string `json:"pvseg_start"`
			Size       string `json:"pvseg_size"`
			LV         string `json:"lv_name"`
			Tags       string `json:"lv_tags"`
		} `json:"pvseg"`
	} `json:"report"`
}

// ParsePVSegments parses `pvs --segments -o <pvsegFields> --reportformat
// json --units b --nosuffix`.
func ParsePVSegments(out []byte) ([]PVSegment, error) {
	var jr jsonPVSegReport
	if err := json.Unmarshal(out, &jr); err != nil {
		return nil, fmt.Errorf("parse LVM PV segment report: %w", err)
	}
	var segs []PVSegment
	for _, sec := range jr.Report {
		for _, s := range sec.PVSeg {
			var n [4]int64
			for i, f := range []struct{ name, v string }{
				{"vg_extent_size", s.ExtentSize}, {"pe_start", s.PEStart}, {"pvseg_start", s.Start}, {"pvseg_size", s.Size},
			} {
				v, err := parseBytes(f.name, f.v)
				if err != nil {
					return nil, err
				}
				n[i] = v
			}
			extent, peStart, start, size := n[0], n[1], n[2], n[3]
			if s.PV == "" || extent <= 0 || start > (1<<62)/extent || size > (1<<62)/extent {
				return nil, fmt.Errorf("parse LVM PV segment report: implausible segment %+v", s)
			}
			seg := PVSegment{PV: s.PV, VG: s.VG, LV: s.LV, Allocatable: strings.HasPrefix(s.Attr, "a"), Start: start, Extents: size, PEStart: peStart, ExtentSize: extent,
				Offset: peStart + start*extent, Size: size * extent}
			if s.Tags != "" {
				seg.Tags = strings.Split(s.Tags, ",")
			}
			segs = append(segs, seg)
		}
	}
	return segs, nil
}

// PVSegments returns the segments of every PV LVM sees (its callers pick
// their VGs; pvs takes PV names as arguments, not VG names).
func (c *Client) PVSegments(ctx context.Context) ([]PVSegment, error) {
	args := append([]string{"pvs", "--segments", "-o", pvsegFields}, reportArgs...)
	res, err := c.lvm(ctx, args...)
	if err != nil {
		return nil, err
	}
	return ParsePVSegments(res.Stdout)
}
