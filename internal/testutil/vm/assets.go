package vm

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// qemu is the emulator the lane runs (Debian's qemu-system-x86).
const qemu = "qemu-system-x86_64"

// assets are the files e2e/vm/build-assets.sh leaves in the cache.
type assets struct {
	kernel, initramfs string
}

// Dir is the asset cache: $TOPOSUITE_VM_DIR, else ~/.cache/toposuite/vm
// (the default of e2e/vm/vm.mk).
func Dir() string {
	if d := os.Getenv("TOPOSUITE_VM_DIR"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "toposuite", "vm")
}

// requireAssets returns the assets, or skips the test saying what is
// missing; with TOPOSUITE_REQUIRE_VM set (make test-vm) it fails instead,
// so that a broken build step cannot pass as a skip.
func requireAssets(t testing.TB) assets {
	t.Helper()
	a, err := findAssets()
	if err != nil {
		if os.Getenv("TOPOSUITE_REQUIRE_VM") != "" {
			t.Fatalf("VM lane: %v", err)
		}
		t.Skipf("VM lane: %v", err)
	}
	return a
}

// Require skips the calling test when it runs in the guest (the host
// side's test binary is the guest's too) or when the lane is not to run
// here (TOPOSUITE_VM_SKIP, missing assets: see requireAssets). Host sides
// call it before starting what the guest needs, RunGoTest calls it anyway.
func Require(t testing.TB) {
	t.Helper()
	if os.Getenv("TOPOSUITE_IN_VM") != "" {
		t.Skip("this is the guest")
	}
	skipIfAsked(t)
	requireAssets(t)
}

func findAssets() (assets, error) {
	dir := Dir()
	a := assets{kernel: filepath.Join(dir, "vmlinuz"), initramfs: filepath.Join(dir, "initramfs.img")}
	for _, p := range []string{a.kernel, a.initramfs} {
		if _, err := os.Stat(p); err != nil {
			return a, fmt.Errorf("%s is missing: run make vm-assets", p)
		}
	}
	if _, err := lookPath(qemu); err != nil {
		return a, fmt.Errorf("%s is not installed: run make vm-assets", qemu)
	}
	// Assets built by another version of the build script would boot an
	// /init this harness does not expect.
	if want, ok := sourceStamp(); ok {
		got, _ := os.ReadFile(filepath.Join(dir, "stamp"))
		if strings.TrimSpace(string(got)) != want {
			return a, fmt.Errorf("the assets in %s are out of date: run make vm-assets", dir)
		}
	}
	return a, nil
}

// sourceStamp computes the stamp build-assets.sh writes (the first 16 hex
// digits of the sha256 of the script followed by init) from the sources in
// this checkout; ok is false when they are not there to read.
func sourceStamp() (string, bool) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", false
	}
	src := filepath.Join(filepath.Dir(file), "..", "..", "..", "e2e", "vm")
	h := sha256.New()
	for _, name := range []string{"build-assets.sh", "init"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			return "", false
		}
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], true
}

// lookPath finds a program in $PATH (os/exec is internal/exec's alone).
func lookPath(name string) (string, error) {
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", errors.New(name + " not found in $PATH")
}
