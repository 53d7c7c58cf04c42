package lvm

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/toposuite/toposuite/internal/storage"
)

// MaxNameLen is the longest LV name accepted. LVM allows 127 characters for
// the VG and LV names together in some device paths, so TopoSuite keeps LV
// names to 64, which fits any volume name the CSI controller generates.
const MaxNameLen = 64

var nameRE = regexp.MustCompile(`^[A-Za-z0-9+_.][A-Za-z0-9+_.-]*$`)

// reservedSubstrings are the suffixes LVM uses for hidden sub-volumes; LVM
// refuses names that contain them (lvm(8), "VALID NAMES").
var reservedSubstrings = []string{
	"_cdata", "_cmeta", "_corig", "_iorig", "_imeta", "_mimage", "_mlog",
	"_pmspare", "_rimage", "_rmeta", "_tdata", "_tmeta", "_vdata", "_vorigin", "_wcorig",
}

// ValidateName checks an LV name against LVM's rules before any command
// runs, so that a bad name is InvalidArgument and nothing is created.
func ValidateName(name string) error {
	switch {
	case name == "":
		return storage.Errorf(storage.ErrInvalid, "volume name is empty")
	case len(name) > MaxNameLen:
		return storage.Errorf(storage.ErrInvalid, "volume name %.20q... is %d characters long; the limit is %d", name, len(name), MaxNameLen)
	case name == "." || name == "..":
		return storage.Errorf(storage.ErrInvalid, "volume name %q is reserved", name)
	case !nameRE.MatchString(name):
		return storage.Errorf(storage.ErrInvalid, "volume name %q may only contain letters, digits and + _ . - and must not start with -", name)
	case strings.HasPrefix(name, "snapshot") || strings.HasPrefix(name, "pvmove"):
		return storage.Errorf(storage.ErrInvalid, "volume name %q starts with a prefix LVM reserves (snapshot, pvmove)", name)
	}
	for _, r := range reservedSubstrings {
		if strings.Contains(name, r) {
			return storage.Errorf(storage.ErrInvalid, "volume name %q contains %q, which LVM reserves", name, r)
		}
	}
	return nil
}

// ValidateVGName checks a volume group name (used by config validation).
func ValidateVGName(name string) error {
	if name == "" || len(name) > 127 || name == "." || name == ".." || !nameRE.MatchString(name) {
		return fmt.Errorf("volume group name %q is not a valid LVM name", name)
	}
	return nil
}
