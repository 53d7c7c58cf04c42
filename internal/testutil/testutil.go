// Package testutil is the one helper package of TopoSuite's tests: root and
// tool checks, loop devices, private LVM configurations and volume groups,
// each torn down by t.Cleanup even when the test fails.
//
// Everything it creates lives under a directory named toposuite-it-* in the
// system temp dir, so that `make clean-test-leftovers` can find what a killed
// test run left behind by the backing-file names alone.
package testutil

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/toposuite/toposuite/internal/exec"
	lvmdconfig "github.com/toposuite/toposuite/lvmd/config"
	"github.com/toposuite/toposuite/lvmd/lvm"
)

// DirPrefix starts the name of every directory integration tests create.
const DirPrefix = "toposuite-it-"

// RequireRoot skips the test unless it runs as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (loop devices, LVM, mounts)")
	}
}

// Dir returns a fresh directory removed at cleanup.
func Dir(t testing.TB) string {
	t.Helper()
	d, err := os.MkdirTemp("", DirPrefix+"*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// Run runs a command and fails the test when it fails.
func Run(t testing.TB, env []string, name string, args ...string) string {
	t.Helper()
	out, err := RunErr(env, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// RunErr runs a command and returns its stdout.
func RunErr(env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := exec.NewLocal(exec.Options{Env: env}).Run(ctx, name, args...)
	return string(res.Stdout), err
}

// LoopDevice attaches a sparse file of size bytes in dir to a loop device
// and detaches it at cleanup.
func LoopDevice(t testing.TB, dir string, size int64) string {
	t.Helper()
	f, err := os.CreateTemp(dir, "disk-*.img")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	dev := strings.TrimSpace(Run(t, nil, "losetup", "--find", "--show", f.Name()))
	t.Cleanup(func() { DetachLoop(t, dev) })
	return dev
}

// DetachLoop detaches a loop device, retrying while it is briefly busy.
func DetachLoop(t testing.TB, dev string) {
	var err error
	for range 50 {
		if _, err = RunErr(nil, "losetup", "-d", dev); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("detach %s: %v", dev, err)
}

// LVMEnv is a private LVM configuration that sees only the given devices,
// runs in metadata-only mode when device-mapper is missing, and never
// touches the host's /etc/lvm.
type LVMEnv struct {
	Dir string
	Env []string
}

// NewLVMEnv writes the private configuration (TESTBED.md §2).
func NewLVMEnv(t testing.TB, devices ...string) *LVMEnv {
	t.Helper()
	dir := Dir(t)
	var accept []string
	for _, d := range devices {
		accept = append(accept, fmt.Sprintf(`"a|^%s$|"`, d))
	}
	activation := 1
	if !DeviceMapper() {
		activation = 0
	}
	conf := fmt.Sprintf(`devices { use_devicesfile=0 obtain_device_list_from_udev=0 filter=[%s,"r|.*|"] scan_lvs=0 }
global { activation=%d use_aio=0 notify_dbus=0 use_lvmpolld=0 event_activation=0 }
activation { udev_sync=0 udev_rules=0 monitoring=0 }
backup { backup=0 archive=0 }
`, strings.Join(accept, ","), activation)
	if err := os.WriteFile(dir+"/lvm.conf", []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := lvm.CopyProfile(lvmdconfig.DefaultShellProfile, dir); err != nil {
		t.Fatal(err)
	}
	return &LVMEnv{Dir: dir, Env: []string{"LVM_SYSTEM_DIR=" + dir, "LVM_SUPPRESS_FD_WARNINGS=1"}}
}

// EnvMap returns the environment as a map (the form lvmd's config takes).
func (e *LVMEnv) EnvMap() map[string]string {
	m := map[string]string{}
	for _, kv := range e.Env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// LVM runs an lvm command in the private configuration.
func (e *LVMEnv) LVM(t testing.TB, args ...string) string {
	t.Helper()
	return Run(t, e.Env, "lvm", args...)
}

// VG creates a volume group on devs and removes it (with its LVs and PVs)
// at cleanup.
func (e *LVMEnv) VG(t testing.TB, name string, devs ...string) {
	t.Helper()
	e.LVM(t, append([]string{"vgcreate", "-y", name}, devs...)...)
	t.Cleanup(func() {
		if _, err := RunErr(e.Env, "lvm", "vgremove", "-f", "-y", name); err != nil {
			t.Errorf("vgremove %s: %v", name, err)
		}
		for _, d := range devs {
			_, _ = RunErr(e.Env, "lvm", "pvremove", "-y", "-ff", d)
		}
	})
}

// DeviceMapper reports whether the kernel has device-mapper. It asks the
// kernel (/proc/misc), not /dev: libdevmapper creates /dev/mapper/control
// even where the kernel has no driver behind it.
func DeviceMapper() bool {
	b, err := os.ReadFile("/proc/misc")
	return err == nil && strings.Contains(string(b), "device-mapper")
}

// RequireTools skips the test when a program is missing.
func RequireTools(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := RunErr(nil, "sh", "-c", "command -v "+n); err != nil {
			t.Skipf("%s is not installed", n)
		}
	}
}

// UniqueName returns a name unlikely to clash across test runs.
func UniqueName(prefix string) string {
	return fmt.Sprintf("%s%d%04d", prefix, os.Getpid()%100000, time.Now().UnixNano()%10000)
}

// Btrfs makes a btrfs filesystem on a fresh loop device of size bytes,
// mounts it in a fresh directory and returns the mount point; unmount and
// detach happen at cleanup.
func Btrfs(t testing.TB, size int64, quota bool) string {
	t.Helper()
	RequireTools(t, "mkfs.btrfs", "btrfs")
	dir := Dir(t)
	dev := LoopDevice(t, dir, size)
	Run(t, nil, "mkfs.btrfs", "-q", "-f", dev)
	mnt := dir + "/mnt"
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	Run(t, nil, "mount", "-t", "btrfs", dev, mnt)
	t.Cleanup(func() { Unmount(t, mnt) })
	if quota {
		Run(t, nil, "btrfs", "quota", "enable", mnt)
	}
	return mnt
}

// Unmount unmounts path, retrying while it is briefly busy.
func Unmount(t testing.TB, path string) {
	var err error
	for range 50 {
		if _, err = RunErr(nil, "umount", path); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("umount %s: %v", path, err)
}
