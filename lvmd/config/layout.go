package config

import (
	"fmt"
	"strconv"
	"strings"
)

// Layout is what an options class does to the space a volume takes: the
// segment type and its mirror and stripe counts, read from the options. It
// makes capacity RAID-aware: a raid1 volume of 10 GiB takes 20 GiB and then
// some for metadata.
type Layout struct {
	Type    string
	Mirrors int
	Stripes int
}

// raidParity is the number of parity images of each parity RAID type.
func raidParity(t string) int {
	switch {
	case strings.HasPrefix(t, "raid4"), strings.HasPrefix(t, "raid5"):
		return 1
	case strings.HasPrefix(t, "raid6"):
		return 2
	}
	return 0
}

// forbiddenOptions are set by lvmd itself from the request; an options class
// that set them would change the volume's name, size or kind behind lvmd's back.
var forbiddenOptions = map[string]bool{
	"-n": true, "--name": true, "-L": true, "--size": true, "-l": true, "--extents": true,
	"-V": true, "--virtualsize": true, "-T": true, "--thin": true, "--thinpool": true,
	"-s": true, "--snapshot": true, "--addtag": true, "-y": true, "--yes": true,
	"--cache": true, "--cachepool": true, "--vdo": true, "--vdopool": true,
}

// SplitOptions turns the config's option strings into argv elements; an
// element may hold several words ("--type raid1").
func SplitOptions(opts []string) []string {
	var out []string
	for _, o := range opts {
		out = append(out, strings.Fields(o)...)
	}
	return out
}

// ParseLayout reads the layout from lvcreate options and rejects options
// lvmd must control itself and segment types it cannot account for.
func ParseLayout(opts []string) (Layout, error) {
	l := Layout{Type: "linear"}
	args := SplitOptions(opts)
	for i := 0; i < len(args); i++ {
		flag, val, hasVal := strings.Cut(args[i], "=")
		if !hasVal && len(flag) > 2 && flag[0] == '-' && flag[1] != '-' {
			// -m1, -i2: short options with the value attached.
			flag, val, hasVal = flag[:2], flag[2:], true
		}
		if forbiddenOptions[flag] {
			return l, fmt.Errorf("option %s is set by lvmd and may not appear in an options class", flag)
		}
		next := func() (string, error) {
			if hasVal {
				return val, nil
			}
			if i+1 >= len(args) {
				return "", fmt.Errorf("option %s needs a value", flag)
			}
			i++
			return args[i], nil
		}
		var err error
		switch flag {
		case "--type", "--segtype":
			l.Type, err = next()
		case "-m", "--mirrors":
			var v string
			if v, err = next(); err == nil {
				l.Mirrors, err = strconv.Atoi(v)
			}
		case "-i", "--stripes":
			var v string
			if v, err = next(); err == nil {
				l.Stripes, err = strconv.Atoi(v)
			}
		}
		if err != nil {
			return l, fmt.Errorf("option %s: %v", flag, err)
		}
	}
	if l.Mirrors < 0 || l.Stripes < 0 {
		return l, fmt.Errorf("mirrors and stripes must not be negative")
	}
	switch {
	case l.Type == "linear", l.Type == "striped", l.Type == "raid0", l.Type == "raid0_meta":
	case l.Type == "raid1", l.Type == "mirror", l.Type == "raid10":
		if l.Mirrors == 0 {
			l.Mirrors = 1
		}
	case raidParity(l.Type) > 0:
		if l.Stripes == 0 {
			// lvcreate's default: the fewest data stripes the level allows.
			l.Stripes = 2
			if strings.HasPrefix(l.Type, "raid6") {
				l.Stripes = 3
			}
		}
	default:
		return l, fmt.Errorf("segment type %q is not supported in options classes (linear, striped, raid0, raid1, raid4, raid5*, raid6*, raid10, mirror)", l.Type)
	}
	if l.Mirrors > 0 && l.Type == "linear" {
		// `-m N` without --type means raid1 in lvm2 >= 2.02.164.
		l.Type = "raid1"
	}
	return l, nil
}

// Footprint returns the bytes a volume of sizeBytes takes in a volume group
// with the given extent size: data images rounded to whole extents and
// stripes, plus one metadata extent per RAID image.
func (l Layout) Footprint(sizeBytes, extent int64) int64 {
	ext := ceilDiv(sizeBytes, extent)
	stripes := int64(max(l.Stripes, 1))
	ext = ceilDiv(ext, stripes) * stripes
	var total int64
	switch {
	case l.Type == "raid1" || l.Type == "mirror":
		images := int64(l.Mirrors + 1)
		total = images * (ext + 1)
	case l.Type == "raid10":
		copies := int64(l.Mirrors + 1)
		if l.Stripes == 0 {
			stripes = 2
			ext = ceilDiv(ext, stripes) * stripes
		}
		total = copies*ext + copies*stripes
	case raidParity(l.Type) > 0:
		per := ext / stripes
		images := stripes + int64(raidParity(l.Type))
		total = images * (per + 1)
	case l.Type == "raid0_meta":
		total = ext + stripes
	default:
		total = ext
	}
	return total * extent
}

// Legs is the number of areas of a volume that LVM puts on physical volumes
// of their own: the images of a RAID or mirror volume, the stripes of a
// striped one. 1 means one area that may span any PVs (linear). The legacy
// mirror type also needs a PV for its disk log, apart from the images: it
// is counted as one more leg, which overstates the log's size (one
// extent) but never the PVs the volume needs.
func (l Layout) Legs() int {
	stripes := max(l.Stripes, 1)
	switch {
	case l.Type == "raid1":
		return l.Mirrors + 1
	case l.Type == "mirror":
		return l.Mirrors + 2
	case l.Type == "raid10":
		return (l.Mirrors + 1) * max(l.Stripes, 2)
	case raidParity(l.Type) > 0:
		return stripes + raidParity(l.Type)
	}
	return stripes
}

// DataLegs is how many legs share a volume's data: each holds
// size/DataLegs of it (the stripes), while the other legs are copies or
// parity of those.
func (l Layout) DataLegs() int {
	switch {
	case l.Type == "raid1" || l.Type == "mirror":
		return 1
	case l.Type == "raid10":
		return max(l.Stripes, 2)
	}
	return max(l.Stripes, 1)
}

// LegExtents is the extents each leg of a volume of sizeBytes takes: its
// share of the data, rounded as Footprint rounds it, plus the metadata
// extent of a RAID image. Footprint is at most Legs x LegExtents extents.
func (l Layout) LegExtents(sizeBytes, extent int64) int64 {
	data := int64(l.DataLegs())
	ext := ceilDiv(ceilDiv(sizeBytes, extent), data)
	if l.Type == "raid1" || l.Type == "mirror" || l.Type == "raid10" || l.Type == "raid0_meta" || raidParity(l.Type) > 0 {
		ext++
	}
	return ext
}

// Factor is the footprint of one byte of data, used to turn free space into
// the largest volume of this layout.
func (l Layout) Factor() float64 {
	switch {
	case l.Type == "raid1" || l.Type == "mirror" || l.Type == "raid10":
		return float64(l.Mirrors + 1)
	case raidParity(l.Type) > 0:
		return float64(l.Stripes+raidParity(l.Type)) / float64(l.Stripes)
	}
	return 1
}

func ceilDiv(a, b int64) int64 {
	if b <= 0 {
		return a
	}
	return (a + b - 1) / b
}
