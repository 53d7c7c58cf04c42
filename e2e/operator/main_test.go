//go:build e2e

package operator

import (
	"flag"
	"os"
	"testing"

	"github.com/toposuite/toposuite/e2e/cluster"
)

// The cluster's node inits and service proxy are this test binary, started
// again: they must run before the tests.
func TestMain(m *testing.M) {
	cluster.RunHelperIfAsked()
	flag.Parse()
	os.Exit(m.Run())
}
