//go:build e2e

package cluster

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// One cluster per test binary: the first end-to-end test brings it up
// (sharedCluster), every other one uses it, and TestMain tears it down
// after the last test, after an interrupt, and shortly before go test's
// -timeout would kill the binary without running any cleanup. A panic in
// a test kills the binary too: make test-e2e runs `toposuite-cluster down`
// on the lab directory afterwards for that case.
func TestMain(m *testing.M) {
	// The node inits and the service proxy are this test binary, started again.
	RunHelperIfAsked()
	flag.Parse()
	os.Exit(runTests(m))
}

var shared struct {
	once sync.Once
	mu   sync.Mutex
	c    *Cluster
	// skip (no root, no tools) or err (Up failed) is what every test gets
	// instead of the cluster.
	skip, err error
	downOnce  sync.Once
}

func runTests(m *testing.M) int {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stderr, "e2e: %v: tearing the cluster down\n", s)
		downShared()
		os.Exit(2)
	}()
	if f := flag.Lookup("test.timeout"); f != nil {
		if d, err := time.ParseDuration(f.Value.String()); err == nil && d > 2*time.Minute {
			t := time.AfterFunc(d-time.Minute, func() {
				fmt.Fprintf(os.Stderr, "e2e: a minute before -timeout %v: tearing the cluster down; goroutines:\n", d)
				_ = pprof.Lookup("goroutine").WriteTo(os.Stderr, 1)
				downShared()
				os.Exit(3)
			})
			defer t.Stop()
		}
	}
	code := m.Run()
	downShared()
	return code
}

// sharedCluster is the binary's one cluster, started by the first test
// that asks. Without root or the tools it skips, or fails under make
// (TOPOSUITE_REQUIRE_ENVTEST).
func sharedCluster(t *testing.T) *Cluster {
	t.Helper()
	shared.once.Do(func() {
		o := Options{Dir: os.Getenv("TOPOSUITE_E2E_DIR"), Out: os.Stdout}
		if o.Dir == "" {
			o.Dir = "/var/tmp/toposuite-e2e"
		}
		if n, err := strconv.Atoi(os.Getenv("TOPOSUITE_E2E_NODES")); err == nil {
			o.Nodes = n
		}
		if os.Geteuid() != 0 {
			shared.skip = fmt.Errorf("the local cluster needs root")
			return
		}
		probe := o
		if err := probe.defaults(); err != nil {
			shared.err = err
			return
		}
		if err := probe.checkTools(); err != nil {
			shared.skip = err
			return
		}
		t0 := time.Now()
		fmt.Printf("e2e: starting the local cluster for %s and the tests after it\n", t.Name())
		c, err := Up(context.Background(), o, UpOptions{})
		if err != nil {
			shared.err = fmt.Errorf("cluster up: %w", err)
			return
		}
		fmt.Printf("e2e: cluster up (%d nodes, both drivers) in %.1f s\n", c.o.Nodes, time.Since(t0).Seconds())
		shared.mu.Lock()
		shared.c = c
		shared.mu.Unlock()
	})
	switch {
	case shared.err != nil:
		t.Fatal(shared.err)
	case shared.skip != nil && os.Getenv("TOPOSUITE_REQUIRE_ENVTEST") != "":
		t.Fatal(shared.skip)
	case shared.skip != nil:
		t.Skip(shared.skip)
	}
	return shared.c
}

// downShared tears the shared cluster down, once.
func downShared() {
	shared.downOnce.Do(func() {
		shared.mu.Lock()
		c := shared.c
		shared.mu.Unlock()
		if c == nil {
			return
		}
		t0 := time.Now()
		if err := c.Down(context.Background()); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: cluster down: %v\n", err)
			return
		}
		fmt.Printf("e2e: cluster down in %.1f s\n", time.Since(t0).Seconds())
	})
}
