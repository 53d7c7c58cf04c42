//go:build integration

package daemon_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/go-logr/logr/testr"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/toposuite/toposuite/btrfsd"
	btrfsconfig "github.com/toposuite/toposuite/btrfsd/config"
	"github.com/toposuite/toposuite/internal/testutil"
	"github.com/toposuite/toposuite/lvmd"
	lvmconfig "github.com/toposuite/toposuite/lvmd/config"
)

// nobody is the user the socket must keep out.
const nobody = 65534

// The sockets of real lvmd and btrfsd daemons, served as their commands
// serve them (Start, then Run with the config's socket) under a process
// umask of 0 (as permissive as a container's can be), are owned by root
// with mode 0600: another user is refused at connect (EACCES), though the
// directory lets it reach the socket, and is let in when the mode allows
// it (so the refusal is the mode's doing).
func TestIntegrationDaemonSocketsOwnerOnly(t *testing.T) {
	testutil.RequireRoot(t)
	old := syscall.Umask(0)
	t.Cleanup(func() { syscall.Umask(old) })
	dir, err := os.MkdirTemp("", "toposuite-sockets-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil { // others may reach what is inside
		t.Fatal(err)
	}
	helper := dialHelper(t, dir)

	t.Run("lvmd", func(t *testing.T) {
		testutil.RequireTools(t, "lvm")
		dev := testutil.LoopDevice(t, testutil.Dir(t), 256<<20)
		env := testutil.NewLVMEnv(t, dev)
		vg := testutil.UniqueName("sockvg")
		env.VG(t, vg, dev)
		cfg := &lvmconfig.Config{
			LVM:           lvmconfig.LVMSettings{Path: "lvm", Env: env.EnvMap()},
			Activation:    lvmconfig.ActivationLVM,
			DeviceClasses: []lvmconfig.DeviceClass{{Name: "ssd", VolumeGroup: vg, Default: true}},
		}
		cfg.SocketName = filepath.Join(dir, "lvmd.sock")
		cfg.Default()
		serve(t, cfg.SocketName, func(ctx context.Context) error {
			inst, err := lvmd.Start(ctx, cfg, testr.New(t).WithName("lvmd"))
			if err != nil {
				return err
			}
			return inst.Run(ctx, cfg.ServeOptions(lvmd.MetricNames))
		})
		ownerOnly(t, helper, cfg.SocketName)
	})
	t.Run("btrfsd", func(t *testing.T) {
		pool := filepath.Join(testutil.Btrfs(t, 256<<20, true), "pool")
		if err := os.Mkdir(pool, 0o755); err != nil {
			t.Fatal(err)
		}
		budget := resource.MustParse("64Mi")
		cfg := &btrfsconfig.Config{Pools: []btrfsconfig.Pool{{Name: "fast", Path: pool, Default: true, Budget: &budget}}}
		cfg.SocketName = filepath.Join(dir, "btrfsd.sock")
		cfg.Default()
		serve(t, cfg.SocketName, func(ctx context.Context) error {
			inst, err := btrfsd.Start(ctx, cfg, testr.New(t).WithName("btrfsd"))
			if err != nil {
				return err
			}
			return inst.Run(ctx, cfg.ServeOptions(btrfsd.MetricNames))
		})
		ownerOnly(t, helper, cfg.SocketName)
	})
}

// serve runs a daemon until the test ends and waits for its socket.
func serve(t *testing.T, socket string, run func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("daemon: %v", err)
		}
	})
	testutil.Eventually(t, "socket "+socket, func() bool { _, err := os.Stat(socket); return err == nil })
}

// ownerOnly checks the socket's owner and mode, and who may connect.
func ownerOnly(t *testing.T, helper func(string) string, socket string) {
	t.Helper()
	fi, err := os.Stat(socket)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 || st.Uid != 0 {
		t.Errorf("%s: mode %v, owner %d; want a socket with mode 0600 owned by root", socket, fi.Mode(), st.Uid)
	}
	conn, err := net.Dial("unix", socket)
	if err != nil {
		t.Fatalf("root cannot connect to %s: %v", socket, err)
	}
	conn.Close()
	if got := helper(socket); !strings.Contains(got, "permission denied") {
		t.Errorf("user %d connecting to %s: %q, want permission denied", nobody, socket, got)
	}
	// The control: with the mode opened up, the same user gets in.
	if err := os.Chmod(socket, 0o666); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = os.Chmod(socket, 0o600) }()
	if got := helper(socket); got != "connected" {
		t.Errorf("user %d connecting to %s made 0666: %q, want connected", nobody, socket, got)
	}
}

// dialHelper returns a function that connects to a socket as user nobody
// (this test binary, run again as that user) and says what happened. The
// binary is copied into dir, which that user can read.
func dialHelper(t *testing.T, dir string) func(string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "dial.test")
	in, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return func(socket string) string {
		cmd := exec.Command(bin, "-test.run=^TestDialAsHelper$", "-test.v")
		cmd.Env = []string{"TOPOSUITE_DIAL_SOCKET=" + socket}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
		b, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatalf("run the dial helper: %v", err)
		}
		s := string(b)
		if i := strings.Index(s, "dial: "); i >= 0 {
			return strings.TrimSpace(strings.SplitN(s[i+len("dial: "):], "\n", 2)[0])
		}
		return s
	}
}

// TestDialAsHelper is the dial helper's body: it runs only when
// TestIntegrationDaemonSocketsOwnerOnly starts this binary as another user.
func TestDialAsHelper(t *testing.T) {
	socket := os.Getenv("TOPOSUITE_DIAL_SOCKET")
	if socket == "" {
		t.Skip("only run by TestIntegrationDaemonSocketsOwnerOnly")
	}
	conn, err := net.Dial("unix", socket)
	if err != nil {
		t.Logf("dial: %v", err)
		return
	}
	conn.Close()
	t.Logf("dial: connected")
}
