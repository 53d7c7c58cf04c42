// Package btrfs talks to the btrfs kernel module through ioctls, so that
// creating a volume with its quota limit, snapshotting and deleting it cost
// one system call each instead of a forked btrfs CLI process per step. It
// knows btrfs, not pools or capacity policy; that is package btrfsd's job.
//
// Layouts and numbers come from the kernel's UAPI headers (linux/btrfs.h,
// linux/btrfs_tree.h) and were checked against them with a C program on
// this machine (see ioctl_test.go for the sizes).
package btrfs

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Ioctl request numbers (linux/btrfs.h, magic 0x94).
const (
	iocSync           = 0x9408
	iocSnapDestroy    = 0x5000940f
	iocTreeSearch     = 0xd0009411
	iocSnapCreateV2   = 0x50009417
	iocSubvolCreateV2 = 0x50009418
	iocSubvolGetFlags = 0x80089419
	iocSubvolSetFlags = 0x4008941a
	iocQuotaCtl       = 0xc0109428
	iocQgroupLimit    = 0x8030942b
	iocGetSubvolInfo  = 0x81f8943c
)

// Flags and constants.
const (
	subvolRdonly        = 1 << 1
	subvolQgroupInherit = 1 << 2
	qgroupInheritLimits = 1 << 0
	qgroupLimitMaxRfer  = 1 << 0
	quotaCtlEnable      = 1
	// rootSubvolRdonly is the read-only bit of a root item's flags, which
	// GET_SUBVOL_INFO reports (not the same bit as subvolRdonly).
	rootSubvolRdonly = 1 << 0

	// NameMax is the longest subvolume name the kernel takes (BTRFS_SUBVOL_NAME_MAX).
	NameMax = 4039
	// SuperMagic is statfs's f_type of btrfs.
	SuperMagic = 0x9123683e
)

type qgroupLimit struct {
	Flags, MaxRfer, MaxExcl, RsvRfer, RsvExcl uint64
}

type qgroupInherit struct {
	Flags, NumQgroups, NumRefCopies, NumExclCopies uint64
	Lim                                            qgroupLimit
}

// volArgsV2 is struct btrfs_ioctl_vol_args_v2 (4096 bytes).
type volArgsV2 struct {
	Fd      int64
	Transid uint64
	Flags   uint64
	Size    uint64
	Inherit uintptr
	_       [2]uint64
	Name    [NameMax + 1]byte
}

// volArgs is struct btrfs_ioctl_vol_args (4096 bytes).
type volArgs struct {
	Fd   int64
	Name [4088]byte
}

type quotaCtlArgs struct {
	Cmd, Status uint64
}

type qgroupLimitArgs struct {
	Qgroupid uint64
	Lim      qgroupLimit
}

// subvolInfo is the start of struct btrfs_ioctl_get_subvol_info_args (504 bytes).
type subvolInfo struct {
	Treeid     uint64
	Name       [256]byte
	ParentID   uint64
	Dirid      uint64
	Generation uint64
	Flags      uint64
	UUID       [16]byte
	ParentUUID [16]byte
	_          [504 - 328]byte
}

func ioctl(fd uintptr, req uintptr, arg unsafe.Pointer) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, fd, req, uintptr(arg))
	if errno != 0 {
		return errno
	}
	return nil
}

// openDir opens a directory for ioctls.
func openDir(path string) (*os.File, error) {
	return os.OpenFile(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
}

func setName(dst []byte, name string) error {
	if name == "" || len(name) >= len(dst) {
		return fmt.Errorf("subvolume name of %d bytes does not fit", len(name))
	}
	copy(dst, name)
	return nil
}

func limitInherit(limit uint64) *qgroupInherit {
	return &qgroupInherit{Flags: qgroupInheritLimits, Lim: qgroupLimit{Flags: qgroupLimitMaxRfer, MaxRfer: limit}}
}

// CreateSubvolume creates parent/name with a quota limit on its referenced
// bytes, in one ioctl: the limit travels with the creation as a qgroup
// inherit record, so there is no moment where the volume is unlimited.
func CreateSubvolume(parent, name string, limit uint64) error {
	d, err := openDir(parent)
	if err != nil {
		return err
	}
	defer d.Close()
	inh := limitInherit(limit)
	args := &volArgsV2{Flags: subvolQgroupInherit, Size: uint64(unsafe.Sizeof(*inh)), Inherit: uintptr(unsafe.Pointer(inh))}
	if err := setName(args.Name[:], name); err != nil {
		return err
	}
	err = ioctl(d.Fd(), iocSubvolCreateV2, unsafe.Pointer(args))
	runtime.KeepAlive(inh) // args holds it as a plain address
	return wrap("create subvolume", parent, name, err)
}

// Snapshot creates parent/name as a snapshot of src with its own quota limit.
func Snapshot(src, parent, name string, readOnly bool, limit uint64) error {
	s, err := openDir(src)
	if err != nil {
		return err
	}
	defer s.Close()
	d, err := openDir(parent)
	if err != nil {
		return err
	}
	defer d.Close()
	inh := limitInherit(limit)
	args := &volArgsV2{Fd: int64(s.Fd()), Flags: subvolQgroupInherit, Size: uint64(unsafe.Sizeof(*inh)), Inherit: uintptr(unsafe.Pointer(inh))}
	if readOnly {
		args.Flags |= subvolRdonly
	}
	if err := setName(args.Name[:], name); err != nil {
		return err
	}
	err = ioctl(d.Fd(), iocSnapCreateV2, unsafe.Pointer(args))
	runtime.KeepAlive(inh)
	return wrap("snapshot "+src+" as", parent, name, err)
}

// DeleteSubvolume deletes parent/name (its level-0 qgroup goes with it).
func DeleteSubvolume(parent, name string) error {
	d, err := openDir(parent)
	if err != nil {
		return err
	}
	defer d.Close()
	args := &volArgs{}
	if err := setName(args.Name[:], name); err != nil {
		return err
	}
	return wrap("delete subvolume", parent, name, ioctl(d.Fd(), iocSnapDestroy, unsafe.Pointer(args)))
}

// SetLimit sets the referenced-bytes limit of subvolume id's level-0
// qgroup. It goes by id, not by path, because the kernel refuses to change
// the limit through a subvolume that is already over it (EDQUOT).
func SetLimit(fsPath string, id, limit uint64) error {
	d, err := openDir(fsPath)
	if err != nil {
		return err
	}
	defer d.Close()
	args := &qgroupLimitArgs{Qgroupid: id, Lim: qgroupLimit{Flags: qgroupLimitMaxRfer, MaxRfer: limit}}
	return wrap("set quota limit of qgroup 0/"+fmt.Sprint(id)+" on", fsPath, "", ioctl(d.Fd(), iocQgroupLimit, unsafe.Pointer(args)))
}

// SetReadOnly sets or clears the read-only flag of the subvolume at path.
func SetReadOnly(path string, ro bool) error {
	d, err := openDir(path)
	if err != nil {
		return err
	}
	defer d.Close()
	var flags uint64
	if err := ioctl(d.Fd(), iocSubvolGetFlags, unsafe.Pointer(&flags)); err != nil {
		return wrap("get flags of", path, "", err)
	}
	if ro {
		flags |= subvolRdonly
	} else {
		flags &^= subvolRdonly
	}
	return wrap("set flags of", path, "", ioctl(d.Fd(), iocSubvolSetFlags, unsafe.Pointer(&flags)))
}

// SubvolumeInfo is what GET_SUBVOL_INFO tells about a subvolume.
type SubvolumeInfo struct {
	ID       uint64
	ReadOnly bool
	// Snapshot is true when the subvolume was made as a snapshot.
	Snapshot bool
}

// Info returns the information of the subvolume whose root is path.
func Info(path string) (SubvolumeInfo, error) {
	d, err := openDir(path)
	if err != nil {
		return SubvolumeInfo{}, err
	}
	defer d.Close()
	var si subvolInfo
	if err := ioctl(d.Fd(), iocGetSubvolInfo, unsafe.Pointer(&si)); err != nil {
		return SubvolumeInfo{}, wrap("get subvolume info of", path, "", err)
	}
	return SubvolumeInfo{ID: si.Treeid, ReadOnly: si.Flags&rootSubvolRdonly != 0, Snapshot: si.ParentUUID != [16]byte{}}, nil
}

// IsSubvolume reports whether path is the root of a subvolume (inode 256 on btrfs).
func IsSubvolume(path string) (bool, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return false, err
	}
	return IsSubvolumeStat(&st), nil
}

// IsSubvolumeStat is IsSubvolume from a stat already made.
func IsSubvolumeStat(st *unix.Stat_t) bool {
	return st.Ino == 256 && st.Mode&unix.S_IFMT == unix.S_IFDIR
}

// Sync commits the current transaction so that quota figures are current.
func Sync(fsPath string) error {
	d, err := openDir(fsPath)
	if err != nil {
		return err
	}
	defer d.Close()
	return wrap("sync", fsPath, "", ioctl(d.Fd(), iocSync, nil))
}

// EnableQuota turns quota groups on for the filesystem at fsPath.
func EnableQuota(fsPath string) error {
	d, err := openDir(fsPath)
	if err != nil {
		return err
	}
	defer d.Close()
	args := &quotaCtlArgs{Cmd: quotaCtlEnable}
	return wrap("enable quota on", fsPath, "", ioctl(d.Fd(), iocQuotaCtl, unsafe.Pointer(args)))
}

// FSUsage is what statfs says of a filesystem.
type FSUsage struct {
	Size, Free int64
}

// Usage returns the filesystem's size and the bytes unprivileged writers
// can still use, and fails when path is not on btrfs.
func Usage(path string) (FSUsage, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return FSUsage{}, err
	}
	if uint32(st.Type) != SuperMagic {
		return FSUsage{}, ErrNotBtrfs
	}
	return FSUsage{Size: int64(st.Blocks) * st.Bsize, Free: int64(st.Bavail) * st.Bsize}, nil
}

// ErrNotBtrfs: the path is not on a btrfs filesystem.
var ErrNotBtrfs = errors.New("not a btrfs filesystem")

func wrap(op, dir, name string, err error) error {
	if err == nil {
		return nil
	}
	target := dir
	if name != "" {
		target = dir + "/" + name
	}
	return &os.PathError{Op: op, Path: target, Err: err}
}
