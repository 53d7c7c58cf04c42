package csi

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
	mount "k8s.io/mount-utils"

	"github.com/container-storage-interface/spec/lib/go/csi"
)

// mounted reports whether target is already a mount point. A target that
// does not exist is not mounted.
func mounted(m mount.Interface, target string) (bool, error) {
	notMnt, err := m.IsLikelyNotMountPoint(target)
	if os.IsNotExist(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return !notMnt, nil
}

// unpublish unmounts target and removes it, file or directory; a target
// that is already gone is fine.
func unpublish(m mount.Interface, target string) error {
	if _, err := os.Lstat(target); os.IsNotExist(err) {
		return nil
	}
	return mount.CleanupMountPoint(target, m, true)
}

// fsUsage reports bytes and inodes of the filesystem mounted at path.
func fsUsage(path string) ([]*csi.VolumeUsage, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return nil, fmt.Errorf("statfs %s: %w", path, err)
	}
	bs := st.Bsize
	return []*csi.VolumeUsage{
		{Unit: csi.VolumeUsage_BYTES, Total: int64(st.Blocks) * bs, Available: int64(st.Bavail) * bs, Used: int64(st.Blocks-st.Bfree) * bs},
		{Unit: csi.VolumeUsage_INODES, Total: int64(st.Files), Available: int64(st.Ffree), Used: int64(st.Files - st.Ffree)},
	}, nil
}

// ensureDir and ensureFile create a mount target the kubelet did not.
func ensureDir(p string) error { return os.MkdirAll(p, 0o750) }

func ensureFile(p string) error {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDONLY, 0o640)
	if err != nil {
		return err
	}
	return f.Close()
}
