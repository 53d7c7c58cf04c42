package lvm

import "fmt"

// Attr is the ten-character lv_attr field, decoded where TopoSuite needs it.
// See lvs(8), "lv_attr bits".
type Attr string

// ParseAttr checks the shape of an lv_attr value.
func ParseAttr(s string) (Attr, error) {
	if len(s) != 10 {
		return "", fmt.Errorf("parse LVM report: lv_attr %q is not 10 characters", s)
	}
	return Attr(s), nil
}

// VolumeType is the first bit: 't' thin pool, 'V' thin volume, 's'
// snapshot, 'r'/'R' raid, 'm'/'M' mirror, '-' plain, and more.
func (a Attr) VolumeType() byte { return a[0] }

// ThinPool reports whether the LV is a thin pool.
func (a Attr) ThinPool() bool { return a[0] == 't' }

// Writable reports the permission bit.
func (a Attr) Writable() bool { return a[1] == 'w' }

// Active reports whether the LV is active on this host ('a' in the state
// bit). In LVM's metadata-only mode the state is 'X' (unknown).
func (a Attr) Active() bool { return a[4] == 'a' }

// Open reports whether the LV's device is open ('o' in the sixth bit):
// mounted, or held by a process or another device.
func (a Attr) Open() bool { return a[5] == 'o' }

// Health returns the reason the LV is not healthy, or "" when it is. It
// reads the state bit (suspended, invalid snapshot, mapped device present
// without tables) and the health bit (partial, refresh needed, mismatches,
// thin pool failed, out of data space, metadata read-only).
func (a Attr) Health() string {
	switch a[4] {
	case 's':
		return "suspended"
	case 'I':
		return "invalid snapshot"
	case 'S':
		return "invalid suspended snapshot"
	case 'm':
		return "snapshot merge failed"
	case 'd':
		return "mapped device present without tables"
	case 'i':
		return "mapped device present with inactive table"
	}
	switch a[8] {
	case 'p':
		return "partial: one or more physical volumes are missing"
	case 'r':
		return "refresh needed: a RAID image had a transient failure"
	case 'm':
		return "RAID mismatches found"
	case 'F':
		return "failed"
	case 'D':
		return "thin pool out of data space"
	case 'M':
		return "thin pool metadata is read-only"
	case 'E':
		return "dm-integrity mismatches"
	}
	return ""
}
