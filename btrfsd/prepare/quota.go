package prepare

import (
	"context"
	"errors"

	"github.com/toposuite/toposuite/btrfsd/btrfs"
)

// Quota turns btrfs quota groups on. btrfsd limits every volume with a
// qgroup and refuses to serve a pool without quotas, so prepare leaves
// every pool it manages with quotas on.
type Quota interface {
	// Enabled reports whether quotas are on for the mounted filesystem
	// with this UUID.
	Enabled(ctx context.Context, fsid string) (bool, error)
	// Enable turns them on for the filesystem mounted at path; it is a
	// no-op when they are on already.
	Enable(ctx context.Context, path string) error
}

// KernelQuota asks the kernel directly, as btrfsd does when it serves:
// sysfs to read the state and the quota ioctl to turn quotas on, so it
// needs no btrfs program. The ioctl opens the pool path in prepare's own
// mount namespace: like btrfsd, prepare must see the pool's mount where it
// runs, also when its commands run elsewhere through a prefix.
type KernelQuota struct {
	// SysfsRoot is btrfs.SysfsRoot except in tests.
	SysfsRoot string
}

// Enabled implements Quota: the kernel publishes a filesystem's qgroups in
// sysfs while quotas are on.
func (k KernelQuota) Enabled(_ context.Context, fsid string) (bool, error) {
	_, err := btrfs.Qgroups(k.SysfsRoot, fsid)
	if errors.Is(err, btrfs.ErrQuotaDisabled) {
		return false, nil
	}
	return err == nil, err
}

// Enable implements Quota with BTRFS_IOC_QUOTA_CTL.
func (k KernelQuota) Enable(_ context.Context, path string) error {
	return btrfs.EnableQuota(path)
}
