package cluster

import (
	"context"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"
)

// The machine has one bridge and one node subnet for a local cluster, so
// two test runs that start clusters at once (two developers' make test,
// or make test beside make bench) would collide. Up takes this lock and
// holds it until Down or the process's end; a second Up waits for it,
// saying so, instead of failing on the network check.
const lockPath = "/run/lock/toposuite-cluster.lock"

var (
	lockMu   sync.Mutex
	lockFile *os.File
)

// acquireMachineLock blocks until this process holds the cluster lock or
// ctx ends. Holding it already (a second Up in the same process, after a
// Down) is fine.
func acquireMachineLock(ctx context.Context, logf func(string, ...any)) error {
	lockMu.Lock()
	defer lockMu.Unlock()
	if lockFile != nil {
		return nil
	}
	if err := os.MkdirAll("/run/lock", 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	said := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			lockFile = f
			return nil
		}
		if err != syscall.EWOULDBLOCK {
			f.Close()
			return fmt.Errorf("lock %s: %w", lockPath, err)
		}
		if !said {
			logf("another local cluster is being used on this machine (lock %s); waiting for it", lockPath)
			said = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return fmt.Errorf("waiting for %s: %w", lockPath, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// releaseMachineLock lets the next cluster start.
func releaseMachineLock() {
	lockMu.Lock()
	defer lockMu.Unlock()
	if lockFile != nil {
		lockFile.Close()
		lockFile = nil
	}
}
