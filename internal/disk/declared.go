package disk

import (
	"context"
	"errors"
	"fmt"

	"github.com/toposuite/toposuite/internal/storage"
)

// NotABlockDevice is InspectDeclared's refusal of a path that names no
// block device.
const NotABlockDevice = "does not exist or is not a block device"

// InspectDeclared inspects a device that a preparer's configuration names
// at path, as part of owner (e.g. "volume group vg1", "pool fast"). The
// refusal is set when the device cannot be used whatever it holds: it does
// not exist, or it was declared before under another name (a symlink), which
// claimed tells: it maps the device numbers seen so far to where they were
// declared, and InspectDeclared adds path's. Info is returned also for a
// device declared twice, so that the caller knows which device it is.
func (c *Client) InspectDeclared(ctx context.Context, path, owner string, pvs PVIndex, claimed map[string]string) (Info, string, error) {
	info, err := c.Inspect(ctx, path, pvs)
	if errors.Is(err, storage.ErrNotFound) {
		return Info{}, NotABlockDevice, nil
	}
	if err != nil {
		return Info{}, "", err
	}
	if info.DevNum != "" {
		if prev, ok := claimed[info.DevNum]; ok {
			return info, "is the same device as " + prev, nil
		}
		claimed[info.DevNum] = fmt.Sprintf("%s (device %s of %s)", info.Path, path, owner)
	}
	return info, "", nil
}
