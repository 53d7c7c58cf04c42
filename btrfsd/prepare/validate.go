package prepare

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/toposuite/toposuite/btrfsd/config"
)

// Validate checks the filesystem blocks of the pools, which config.Validate
// leaves to prepare: device paths, wipe entries, profiles against the
// number of devices, mount options. Every problem is reported.
func Validate(pools []config.Pool) error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	owner := map[string]string{}
	declared := 0
	for i, p := range pools {
		fs := p.Filesystem
		if fs == nil {
			continue
		}
		declared++
		at := fmt.Sprintf("pools[%d].filesystem", i)
		local := map[string]bool{}
		for j, d := range fs.Devices {
			w := fmt.Sprintf("%s.devices[%d]", at, j)
			if !filepath.IsAbs(d) || filepath.Clean(d) != d {
				add("%s: %q must be a clean absolute path such as /dev/sdb", w, d)
				continue
			}
			if prev, ok := owner[d]; ok {
				add("%s: %s is declared in %s too", w, d, prev)
				continue
			}
			owner[d], local[d] = w, true
		}
		for j, w := range fs.Wipe {
			// A wipe entry that names no declared device is most likely a
			// typo, and would let the administrator believe a device will
			// be wiped (or protected) when it will not.
			if !local[w] {
				add("%s.wipe[%d]: %q is not one of this pool's devices", at, j, w)
			}
		}
		for _, pr := range []struct{ key, profile string }{{"dataProfile", fs.DataProfile}, {"metadataProfile", fs.MetadataProfile}} {
			if need := minDevices(pr.profile); len(fs.Devices) < need {
				add("%s.%s: %s needs at least %d devices, %d declared", at, pr.key, pr.profile, need, len(fs.Devices))
			}
		}
		for j, o := range fs.MountOptions {
			if o == "" || strings.ContainsAny(o, ", \t\n") {
				add("%s.mountOptions[%d]: %q must be one option, without commas or spaces", at, j, o)
			}
		}
		if fs.MinDeviceSize != nil && fs.MinDeviceSize.Sign() < 0 {
			add("%s.minDeviceSize: must not be negative", at)
		}
	}
	if declared == 0 {
		add("pools: nothing to prepare; declare a filesystem under at least one pool")
	}
	return errors.Join(errs...)
}

// minDevices is the fewest devices a profile takes. The figures are
// mkfs.btrfs 6.2's, measured on loop devices, except raid0, which it takes
// on one device: there it stripes nothing, so a single device is given
// single or dup instead (and older btrfs-progs refuse it).
func minDevices(profile string) int {
	switch profile {
	case "raid0", "raid1", "raid10", "raid5":
		return 2
	case "raid6", "raid1c3":
		return 3
	case "raid1c4":
		return 4
	}
	return 1
}
