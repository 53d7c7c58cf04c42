package vm

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// skipIfAsked skips the test when TOPOSUITE_VM_SKIP is set: make test runs
// the VM lane in its own target, and its integration target leaves the
// TestIntegrationVM* tests to it.
func skipIfAsked(t testing.TB) {
	t.Helper()
	if os.Getenv("TOPOSUITE_VM_SKIP") != "" {
		t.Skip("TOPOSUITE_VM_SKIP is set: the VM lane runs in make test-vm")
	}
}

// lockMachine waits until no other VM of the lane runs on this machine and
// returns the function that lets the next one start. A VM under TCG keeps
// a core or two busy; two at once (go test runs packages in parallel) would
// only slow both down. The lock is a file lock, so a killed test releases it.
func lockMachine(ctx context.Context, t testing.TB) (func(), error) {
	path := filepath.Join(os.TempDir(), "toposuite-vm.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	logged := false
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if err != unix.EWOULDBLOCK {
			f.Close()
			return nil, err
		}
		if !logged {
			t.Logf("VM lane: another VM runs on this machine; waiting for it")
			logged = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
