package testutil

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// WriteMBR writes a DOS partition table with one Linux partition onto dev,
// the way fdisk would, without needing fdisk (not installed here).
func WriteMBR(t testing.TB, dev string) {
	t.Helper()
	var s [512]byte
	binary.LittleEndian.PutUint32(s[440:], 0x78563412) // disk identifier
	p := s[446:462]
	p[4] = 0x83                                  // Linux
	binary.LittleEndian.PutUint32(p[8:], 2048)   // first sector
	binary.LittleEndian.PutUint32(p[12:], 16384) // sectors
	s[510], s[511] = 0x55, 0xAA
	f, err := os.OpenFile(dev, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(s[:], 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}

// MkfsExt4 puts an ext4 filesystem on dev.
func MkfsExt4(t testing.TB, dev string) {
	t.Helper()
	Run(t, nil, "mkfs.ext4", "-q", "-F", dev)
}

// MountAtCleanup mounts dev on a fresh directory and unmounts it when the
// test ends (before the loop device under it is detached).
func MountAtCleanup(t testing.TB, dev string) string {
	t.Helper()
	mp := Dir(t)
	Run(t, nil, "mount", dev, mp)
	t.Cleanup(func() { Unmount(t, mp) })
	return mp
}

// Signatures lists the signature types wipefs finds on dev.
func Signatures(t testing.TB, dev string) []string {
	t.Helper()
	return strings.Fields(Run(t, nil, "wipefs", "--no-act", "--noheadings", "--output", "TYPE", dev))
}

// ReadOnlyLoop attaches a sparse file read-only and detaches it at cleanup.
func ReadOnlyLoop(t testing.TB, dir string, size int64) string {
	t.Helper()
	file := filepath.Join(dir, "readonly.img")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(file, size); err != nil {
		t.Fatal(err)
	}
	dev := strings.TrimSpace(Run(t, nil, "losetup", "--read-only", "--find", "--show", file))
	t.Cleanup(func() { DetachLoop(t, dev) })
	return dev
}
