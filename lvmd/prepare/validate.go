package prepare

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/toposuite/toposuite/lvmd/config"
	"github.com/toposuite/toposuite/lvmd/lvm"
)

// Validate checks the volumeGroups part of a configuration (their thin
// pools too), which is all prepare needs: it does not check device classes, whose volume groups are
// what prepare creates. Every problem is reported, one per line.
func Validate(vgs []config.VolumeGroup) error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(vgs) == 0 {
		add("volumeGroups: nothing to prepare; declare at least one volume group")
	}
	names := map[string]bool{}
	// owner maps every device and loop file path to where it is declared,
	// so that one device is never declared twice.
	owner := map[string]string{}
	claim := func(path, where string) {
		if prev, ok := owner[path]; ok {
			add("%s: %s is declared in %s too", where, path, prev)
			return
		}
		owner[path] = where
	}
	for i, vg := range vgs {
		p := fmt.Sprintf("volumeGroups[%d]", i)
		if err := lvm.ValidateVGName(vg.Name); err != nil {
			add("%s.name: %v", p, err)
		}
		if names[vg.Name] {
			add("%s.name: %q is declared twice", p, vg.Name)
		}
		names[vg.Name] = true
		if len(vg.Devices)+len(vg.LoopFiles) == 0 {
			add("%s: needs devices or loopFiles", p)
		}
		local := map[string]bool{}
		for j, d := range vg.Devices {
			w := fmt.Sprintf("%s.devices[%d]", p, j)
			if !filepath.IsAbs(d) || filepath.Clean(d) != d {
				add("%s: %q must be a clean absolute path such as /dev/sdb", w, d)
				continue
			}
			claim(d, w)
			local[d] = true
		}
		for j, lf := range vg.LoopFiles {
			w := fmt.Sprintf("%s.loopFiles[%d]", p, j)
			if !filepath.IsAbs(lf.Path) || filepath.Clean(lf.Path) != lf.Path {
				add("%s.path: %q must be a clean absolute path", w, lf.Path)
				continue
			}
			if lf.Size == nil || lf.Size.Sign() <= 0 {
				add("%s.size: a positive size is required", w)
			}
			claim(lf.Path, w)
			local[lf.Path] = true
		}
		for j, w := range vg.Wipe {
			// A wipe entry that names nothing declared is most likely a
			// typo, and would let the administrator believe a device will
			// be wiped (or protected) when it will not.
			if !local[w] {
				add("%s.wipe[%d]: %q is not one of this volume group's devices or loop files", p, j, w)
			}
		}
		if vg.MinDeviceSize != nil && vg.MinDeviceSize.Sign() < 0 {
			add("%s.minDeviceSize: must not be negative", p)
		}
		if vg.ThinPool != nil {
			errs = append(errs, vg.ThinPool.Validate(p+".thinPool")...)
		}
	}
	return errors.Join(errs...)
}
