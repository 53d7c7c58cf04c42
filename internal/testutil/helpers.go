package testutil

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Context returns a context that ends after a minute or with the test.
func Context(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// WantCode checks the gRPC code of err.
func WantCode(t testing.TB, err error, want codes.Code, what string) {
	t.Helper()
	if status.Code(err) != want {
		t.Errorf("%s: got %v, want %v", what, err, want)
	}
}

// Eventually polls cond for up to 20 s and fails the test when it never
// holds: for work other components finish asynchronously (kernel clean-up,
// controllers). It bounds a wait; it asserts no duration.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for range 400 {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// ToolsDir is where make tools-e2e puts the Kubernetes binaries, the CSI
// sidecars, csi-sanity and helm: $KUBEBUILDER_ASSETS (make test sets it),
// else the default cache.
func ToolsDir() string {
	if d := os.Getenv("KUBEBUILDER_ASSETS"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "toposuite", "tools", "bin")
}

// Tool returns the path of a tool built by make tools-e2e. A missing tool
// skips the test, or fails it when TOPOSUITE_REQUIRE_ENVTEST is set (as make
// test does), so a broken build step cannot pass as a skip.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(ToolsDir(), name)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("TOPOSUITE_REQUIRE_ENVTEST") != "" {
			t.Fatalf("%s not built (%v): run make tools-e2e", name, err)
		}
		t.Skipf("%s not built: run make tools-e2e", name)
	}
	return p
}
