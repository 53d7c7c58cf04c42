//go:build e2e

package cluster

import (
	"path/filepath"
	"strings"
	"time"
)

// Changing an installed driver the way its users do: helm upgrade of the
// release with the values it has and one more.

// helmSet upgrades the driver's release with --reuse-values and the given
// --set values, and waits until the suite runs Ready again.
func (e *env) helmSet(d driverCase, values ...string) {
	e.t.Helper()
	t0 := time.Now()
	args := []string{"upgrade", d.name, filepath.Join(e.Repo(), "deploy", "charts", d.name),
		"--namespace", controllerNamespace(d), "--reuse-values", "--wait", "--timeout", "5m"}
	for _, v := range values {
		args = append(args, "--set", v)
	}
	if out, err := e.Helm(e.ctx, args...); err != nil {
		e.t.Fatalf("helm upgrade %s --set %s: %v: %s", d.name, strings.Join(values, ","), err, out)
	}
	e.waitSuiteReady(nil)
	e.t.Logf("%s: %s rolled out in %.1f s", d.name, strings.Join(values, ","), time.Since(t0).Seconds())
}

// lvmdDaemonSet runs TopoLVM's lvmd as the chart's own DaemonSet (the node
// plugin reaches it on its socket) until the test ends, then embedded
// again. The cluster imports only the images of the charts' defaults, so
// lvmd's image is imported into every node first.
func (e *env) lvmdDaemonSet() {
	e.t.Helper()
	for _, node := range e.NodeNames() {
		if out, err := run(e.ctx, nil, "ctr", "--address", e.o.path(node, "containerd.sock"), "--namespace", "k8s.io",
			"images", "import", filepath.Join(e.o.ImagesDir, "lvmd.tar")); err != nil {
			e.t.Fatalf("%s: import lvmd's image: %v: %s", node, err, out)
		}
	}
	e.helmSet(drivers[0], "lvmd.mode=daemonset")
	e.t.Cleanup(func() { e.helmSet(drivers[0], "lvmd.mode=embedded") })
}
