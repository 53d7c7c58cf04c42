package lvm

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// VG is a volume group as the reports show it. Sizes are in bytes.
type VG struct {
	Name       string
	UUID       string
	Size       int64
	Free       int64
	ExtentSize int64
}

// LV is a logical volume as the reports show it. Sizes are in bytes.
type LV struct {
	Name   string
	VG     string
	UUID   string
	Size   int64
	Attr   Attr
	Path   string
	Tags   []string
	Pool   string
	Origin string
	// DataPercent and MetadataPercent are set for thin pools, thin volumes
	// and snapshots; -1 when the report leaves them empty.
	DataPercent     float64
	MetadataPercent float64
	Segtype         string
	// OriginSize is the size of a thick snapshot's origin (what the
	// snapshot presents); Size is then its copy-on-write space.
	OriginSize int64
}

// HasTag reports whether the LV carries tag.
func (lv LV) HasTag(tag string) bool {
	for _, t := range lv.Tags {
		if t == tag {
			return true
		}
	}
	return false
}

// PVSpace is the free space of a physical volume as a fullreport shows it:
// the room a RAID image or a stripe, which LVM puts on PVs of its own, can
// have there.
type PVSpace struct {
	Name string
	// VG is the volume group of the report section the PV is listed in.
	VG   string
	Free int64
	// Allocatable is false for a PV LVM may not allocate from: made
	// unallocatable (pvchange --allocatable n) or missing.
	Allocatable bool
}

// Report is the content of one `lvm fullreport` (VGs, their PVs' free
// space and their LVs).
type Report struct {
	VGs []VG
	PVs []PVSpace
	LVs []LV
}

// The JSON shapes LVM prints with --reportformat json --units b --nosuffix:
// every value is a string, and a report holds one section per VG.
type jsonReport struct {
	Report []struct {
		VG []jsonVG      `json:"vg"`
		PV []jsonPVSpace `json:"pv"`
		LV []jsonLV      `json:"lv"`
	} `json:"report"`
}

type jsonVG struct {
	Name       string `json:"vg_name"`
	UUID       string `json:"vg_uuid"`
	Size       string `json:"vg_size"`
	Free       string `json:"vg_free"`
	ExtentSize string `json:"vg_extent_size"`
}

type jsonLV struct {
	Name            string `json:"lv_name"`
	VG              string `json:"vg_name"`
	UUID            string `json:"lv_uuid"`
	Size            string `json:"lv_size"`
	Attr            string `json:"lv_attr"`
	Path            string `json:"lv_path"`
	Tags            string `json:"lv_tags"`
	Pool            string `json:"pool_lv"`
	Origin          string `json:"origin"`
	DataPercent     string `json:"data_percent"`
	MetadataPercent string `json:"metadata_percent"`
	Segtype         string `json:"segtype"`
	OriginSize      string `json:"origin_size"`
}

type jsonPVSpace struct {
	Name string `json:"pv_name"`
	Free string `json:"pv_free"`
	Attr string `json:"pv_attr"`
}

// vgFields and lvFields are the columns requested from vgs and lvs; they
// are the keys the parsers read (fullreport prints them among others).
const (
	vgFields = "vg_name,vg_uuid,vg_size,vg_free,vg_extent_size"
	// fullReportPVFields are the columns of a fullreport's PV part.
	fullReportPVFields = "pv_name,pv_free,pv_attr"
	lvFields           = "lv_name,vg_name,lv_uuid,lv_size,lv_attr,lv_path,lv_tags,pool_lv,origin,origin_size,data_percent,metadata_percent,segtype"
)

// ParseReport parses the stdout of vgs, lvs or fullreport in JSON form. In
// a fullreport the VG name of each LV comes from its section, since LVM
// prints no vg_name column there.
func ParseReport(out []byte) (Report, error) {
	var jr jsonReport
	if err := json.Unmarshal(out, &jr); err != nil {
		return Report{}, fmt.Errorf("parse LVM report: %w", err)
	}
	var r Report
	for _, sec := range jr.Report {
		sectionVG := ""
		if len(sec.VG) == 1 {
			sectionVG = sec.VG[0].Name
		}
		for _, v := range sec.VG {
			vg, err := v.parse()
			if err != nil {
				return Report{}, err
			}
			r.VGs = append(r.VGs, vg)
		}
		for _, p := range sec.PV {
			pv, err := p.parse(sectionVG)
			if err != nil {
				return Report{}, err
			}
			r.PVs = append(r.PVs, pv)
		}
		for _, l := range sec.LV {
			lv, err := l.parse()
			if err != nil {
				return Report{}, err
			}
			if lv.VG == "" {
				lv.VG = sectionVG
			}
			r.LVs = append(r.LVs, lv)
		}
	}
	return r, nil
}

func (v jsonVG) parse() (VG, error) {
	vg := VG{Name: v.Name, UUID: v.UUID}
	var err error
	if vg.Size, err = parseBytes("vg_size", v.Size); err != nil {
		return VG{}, err
	}
	if vg.Free, err = parseBytes("vg_free", v.Free); err != nil {
		return VG{}, err
	}
	if vg.ExtentSize, err = parseBytes("vg_extent_size", v.ExtentSize); err != nil {
		return VG{}, err
	}
	if vg.Name == "" {
		return VG{}, fmt.Errorf("parse LVM report: volume group without a name")
	}
	return vg, nil
}

// parse reads a PV's free space. The third letter of pv_attr is 'm' for a
// missing PV, whose space LVM cannot allocate either.
func (p jsonPVSpace) parse(vg string) (PVSpace, error) {
	if p.Name == "" {
		return PVSpace{}, fmt.Errorf("parse LVM report: physical volume without a name")
	}
	free, err := parseBytes("pv_free", p.Free)
	if err != nil {
		return PVSpace{}, err
	}
	return PVSpace{Name: p.Name, VG: vg, Free: free,
		Allocatable: strings.HasPrefix(p.Attr, "a") && !(len(p.Attr) > 2 && p.Attr[2] == 'm')}, nil
}

func (l jsonLV) parse() (LV, error) {
	lv := LV{Name: l.Name, VG: l.VG, UUID: l.UUID, Path: l.Path, Pool: l.Pool, Origin: l.Origin, Segtype: l.Segtype}
	var err error
	if lv.Size, err = parseBytes("lv_size", l.Size); err != nil {
		return LV{}, err
	}
	if l.OriginSize != "" {
		if lv.OriginSize, err = parseBytes("origin_size", l.OriginSize); err != nil {
			return LV{}, err
		}
	}
	if lv.Attr, err = ParseAttr(l.Attr); err != nil {
		return LV{}, err
	}
	if lv.DataPercent, err = parsePercent("data_percent", l.DataPercent); err != nil {
		return LV{}, err
	}
	if lv.MetadataPercent, err = parsePercent("metadata_percent", l.MetadataPercent); err != nil {
		return LV{}, err
	}
	if l.Tags != "" {
		lv.Tags = strings.Split(l.Tags, ",")
	}
	if lv.Name == "" {
		return LV{}, fmt.Errorf("parse LVM report: logical volume without a name")
	}
	return lv, nil
}

func parseBytes(field, s string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("parse LVM report: %s %q is not a byte count", field, s)
	}
	return n, nil
}

func parsePercent(field, s string) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return -1, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 100 {
		return 0, fmt.Errorf("parse LVM report: %s %q is not a percentage", field, s)
	}
	return f, nil
}
