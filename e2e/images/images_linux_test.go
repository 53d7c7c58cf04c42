package main

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func setUmask(m int) int { return syscall.Umask(m) }

// chrootAttr runs a command chrooted into root.
func chrootAttr(root string) *syscall.SysProcAttr { return &syscall.SysProcAttr{Chroot: root} }

// privateMountNS runs a command in a new mount namespace (Go makes its
// mounts private), so that what it mounts vanishes with it.
func privateMountNS() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
}

// chrootHelperEnv makes the test binary chrootHelper instead of tests.
const chrootHelperEnv = "TOPOSUITE_IMAGES_CHROOT_HELPER"

// chrootHelper runs in a private mount namespace (privateMountNS): it mounts
// /proc under root, chroots into root and execs args there.
func chrootHelper(root string, args []string) {
	fail := func(what string, err error) {
		fmt.Fprintf(os.Stderr, "chroot helper: %s: %v\n", what, err)
		os.Exit(127)
	}
	if err := syscall.Mount("proc", filepath.Join(root, "proc"), "proc", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, ""); err != nil {
		fail("mount /proc", err)
	}
	if err := syscall.Chroot(root); err != nil {
		fail("chroot", err)
	}
	if err := os.Chdir("/"); err != nil {
		fail("chdir", err)
	}
	fail("exec "+args[0], syscall.Exec(args[0], args, os.Environ()))
}

// makeDevNodes makes what a container runtime gives every container and the
// tools open: /dev/null, /dev/zero, /dev/urandom and the /proc mount point.
func makeDevNodes(t *testing.T, root string) {
	t.Helper()
	for _, d := range []string{"dev", "proc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, minor := range map[string]int{"null": 3, "zero": 5, "urandom": 9} {
		dev := 1<<8 | minor // major 1 (mem), minor: old-style encoding fits
		if err := syscall.Mknod(filepath.Join(root, "dev", name), syscall.S_IFCHR|0o666, dev); err != nil {
			t.Fatal(err)
		}
	}
}
