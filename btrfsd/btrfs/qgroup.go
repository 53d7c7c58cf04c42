package btrfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

const iocFSInfo = 0x8400941f

// fsInfoArgs is struct btrfs_ioctl_fs_info_args (1024 bytes).
type fsInfoArgs struct {
	MaxID      uint64
	NumDevices uint64
	FSID       [16]byte
	_          [1024 - 32]byte
}

// FSID returns the filesystem UUID of the btrfs at path, as sysfs names it.
func FSID(path string) (string, error) {
	d, err := openDir(path)
	if err != nil {
		return "", err
	}
	defer d.Close()
	var a fsInfoArgs
	if err := ioctl(d.Fd(), iocFSInfo, unsafe.Pointer(&a)); err != nil {
		return "", wrap("get filesystem info of", path, "", err)
	}
	u := a.FSID
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16]), nil
}

// Qgroup is a level-0 quota group: the usage and limit of one subvolume.
type Qgroup struct {
	ID uint64
	// Referenced and Exclusive bytes, as of the last transaction commit.
	Referenced, Exclusive uint64
	// Limit on referenced bytes; 0 when there is none.
	Limit uint64
}

// ErrQuotaDisabled: quota groups are not enabled on the filesystem.
var ErrQuotaDisabled = errors.New("quota is not enabled")

// Qgroups reads every level-0 qgroup of a filesystem from sysfs
// (/sys/fs/btrfs/<fsid>/qgroups/0_<id>/). These are the kernel's in-memory
// figures: limits are current the moment they are set, while the quota tree
// on disk (what `btrfs qgroup show` reads) only catches up at the next
// transaction commit. Usage figures move at each commit; call Sync first
// when they must be current.
func Qgroups(sysfsRoot, fsid string) (map[uint64]Qgroup, error) {
	dir := filepath.Join(sysfsRoot, fsid, "qgroups")
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrQuotaDisabled
	}
	if err != nil {
		return nil, err
	}
	out := make(map[uint64]Qgroup, len(entries))
	for _, e := range entries {
		id, ok := strings.CutPrefix(e.Name(), "0_")
		if !ok || !e.IsDir() {
			continue
		}
		q, err := readQgroup(filepath.Join(dir, e.Name()), id)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENODEV) {
			// Deleted while we read: the directory goes (ENOENT), or a
			// file opened just before reads ENODEV (seen polling 5,000
			// subvolumes while others were being deleted).
			continue
		}
		if err != nil {
			return nil, err
		}
		out[q.ID] = q
	}
	return out, nil
}

// Qgroup returns the level-0 qgroup of subvolume id.
func QgroupOf(sysfsRoot, fsid string, id uint64) (Qgroup, error) {
	dir := filepath.Join(sysfsRoot, fsid, "qgroups")
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return Qgroup{}, ErrQuotaDisabled
	}
	return readQgroup(filepath.Join(dir, "0_"+strconv.FormatUint(id, 10)), strconv.FormatUint(id, 10))
}

// Commitment returns what subvolume id takes from a budget: its qgroup's
// limit, or its referenced bytes when it has none. It reads one sysfs file
// (two without a limit) rather than the three of QgroupOf, for polls over
// thousands of subvolumes.
func Commitment(sysfsRoot, fsid string, id uint64) (uint64, error) {
	dir := filepath.Join(sysfsRoot, fsid, "qgroups", "0_"+strconv.FormatUint(id, 10))
	read := func(name string) (uint64, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return 0, err
		}
		v, err := ParseSysfsUint(b)
		if err != nil {
			return 0, fmt.Errorf("%s/%s: %w", dir, name, err)
		}
		return v, nil
	}
	limit, err := read("max_referenced")
	if err != nil || limit > 0 {
		return limit, err
	}
	return read("referenced")
}

func readQgroup(dir, id string) (Qgroup, error) {
	var q Qgroup
	var err error
	if q.ID, err = strconv.ParseUint(id, 10, 64); err != nil {
		return q, fmt.Errorf("qgroup directory %s: %w", dir, err)
	}
	for _, f := range []struct {
		name string
		dst  *uint64
	}{{"referenced", &q.Referenced}, {"exclusive", &q.Exclusive}, {"max_referenced", &q.Limit}} {
		b, err := os.ReadFile(filepath.Join(dir, f.name))
		if err != nil {
			return q, err
		}
		if *f.dst, err = ParseSysfsUint(b); err != nil {
			return q, fmt.Errorf("%s/%s: %w", dir, f.name, err)
		}
	}
	return q, nil
}

// ParseSysfsUint parses a sysfs number file ("16777216\n").
func ParseSysfsUint(b []byte) (uint64, error) {
	return strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
}

// SysfsRoot is where the kernel publishes btrfs filesystems.
const SysfsRoot = "/sys/fs/btrfs"
