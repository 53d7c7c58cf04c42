// Package blockdev is what lvmd does to the bytes of a volume's device
// rather than to LVM's metadata: copy one device into another and clear
// a device's extents before they go back to the volume group. It knows
// block devices, not LVM.
package blockdev

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Size returns the size of the block device at path.
func Size(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return size(f)
}

func size(f *os.File) (int64, error) {
	var n uint64
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.BLKGETSIZE64, uintptr(unsafe.Pointer(&n))); errno != 0 {
		return 0, fmt.Errorf("size of %s: %w", f.Name(), errno)
	}
	return int64(n), nil
}

// Zero, Discard and ZeroUnmap fail with ErrBusy on a device in use.

// Zero makes [off, off+n) of the device read as zeros and keeps its blocks
// allocated (BLKZEROOUT): the kernel sends the device's write-zeroes
// command when it has one and writes zero pages otherwise, so it always
// works and its cost depends on the device.
func Zero(path string, off, n int64) error {
	return rangeIoctl(path, unix.BLKZEROOUT, off, n)
}

// Discard tells the device that [off, off+n) holds nothing of value
// (BLKDISCARD). What the range reads afterwards is up to the device: a
// thin volume reads zeros, a disk may keep the old bytes. An error wraps
// ErrUnsupported when the device takes no discards.
func Discard(path string, off, n int64) error {
	return rangeIoctl(path, unix.BLKDISCARD, off, n)
}

// ZeroUnmap makes [off, off+n) read as zeros and lets the device free the
// blocks (fallocate PUNCH_HOLE on a block device: the write-zeroes command
// with unmapping allowed). The kernel never falls back to writing zeros
// here: without such a command the error wraps ErrUnsupported.
func ZeroUnmap(path string, off, n int64) error {
	f, err := openExclusive(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n); err != nil {
		return fmt.Errorf("unmap %s [%d, +%d): %w", path, off, n, unsupported(err))
	}
	return nil
}

// openExclusive opens a block device for writing only if nothing holds it
// (a mounted filesystem, device-mapper, another exclusive opener): what
// this package erases must be in no one's use.
func openExclusive(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|unix.O_EXCL, 0)
	if errors.Is(err, unix.EBUSY) {
		return nil, fmt.Errorf("%s: %w", path, ErrBusy)
	}
	return f, err
}

// ErrBusy: the device is mounted or held.
var ErrBusy = errors.New("the device is mounted or held")

// ErrUnsupported: the device does not take this kind of request.
var ErrUnsupported = errors.New("not supported by the device")

func unsupported(err error) error {
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOTTY) {
		return fmt.Errorf("%w (%w)", ErrUnsupported, err)
	}
	return err
}

func rangeIoctl(path string, req uint, off, n int64) error {
	if n <= 0 {
		return nil
	}
	f, err := openExclusive(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := [2]uint64{uint64(off), uint64(n)}
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), uintptr(req), uintptr(unsafe.Pointer(&r))); errno != 0 {
		name := map[uint]string{unix.BLKZEROOUT: "zero", unix.BLKDISCARD: "discard"}[req]
		return fmt.Errorf("%s %s [%d, +%d): %w", name, path, off, n, unsupported(errno))
	}
	return nil
}
