package values

import (
	"fmt"
	"path"
	"slices"

	"github.com/toposuite/toposuite/internal/api/operator/v1alpha1"
	"github.com/toposuite/toposuite/internal/operator/report"
)

// defaultMinDeviceSize is lvmd prepare's default minDeviceSize: a smaller
// device is never selected, since prepare would only refuse it.
const defaultMinDeviceSize = 1 << 30

// checkSelector refuses what the CRD cannot check: sizes (CEL on quantities
// without a length bound exceeds the API server's cost budget) and the
// globs' finer points (a range such as [a-]).
func checkSelector(s *v1alpha1.DeviceSelector) error {
	if s.MinSize != nil && s.MinSize.Sign() < 0 {
		return fmt.Errorf("minSize %s is negative", s.MinSize)
	}
	if s.MaxSize != nil && s.MaxSize.Sign() <= 0 {
		return fmt.Errorf("maxSize %s is not positive", s.MaxSize)
	}
	if s.MinSize != nil && s.MaxSize != nil && s.MinSize.Cmp(*s.MaxSize) > 0 {
		return fmt.Errorf("minSize %s is above maxSize %s", s.MinSize, s.MaxSize)
	}
	for _, f := range [][2]string{{"model", s.Model}, {"byIDPattern", s.ByIDPattern}} {
		field, glob := f[0], f[1]
		// path.Match checks the whole pattern whatever the name.
		if _, err := path.Match(glob, ""); err != nil {
			return fmt.Errorf("%s %q: %w", field, glob, err)
		}
	}
	return nil
}

// matches reports whether d meets every criterion s sets. The globs were
// checked by checkSelector, so a match error cannot happen and counts as no
// match.
func matches(s *v1alpha1.DeviceSelector, d report.Device) bool {
	if s.MinSize != nil && d.Size < s.MinSize.Value() {
		return false
	}
	if s.MaxSize != nil && d.Size > s.MaxSize.Value() {
		return false
	}
	if s.Rotational != nil && d.Rotational != *s.Rotational {
		return false
	}
	if s.Model != "" {
		if ok, _ := path.Match(s.Model, d.Model); !ok {
			return false
		}
	}
	if s.ByIDPattern != "" {
		return slices.ContainsFunc(d.ByID, func(id string) bool {
			ok, _ := path.Match(s.ByIDPattern, path.Base(id))
			return ok
		})
	}
	return true
}
