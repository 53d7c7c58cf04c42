package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// The two drivers as the cluster installs them: release, namespace, chart
// and the values this machine needs on top of the chart's defaults.
type release struct {
	name, namespace, chart string
	values                 string
}

// releases: the tag of the images of make images (imported, never pulled:
// imagePullPolicy Never), and for TopoLVM the node's volume group with
// lvmd's development-loop activation (no device-mapper on these machines,
// docs/lvmd.md). TopoLS uses the chart's default pool path, where each
// node has its btrfs pool mounted; both have the second device class
// "small" of devclasses.go, with a StorageClass each. Both drivers' pod webhooks are on, for
// the scheduler extender (the third release), which kube-scheduler calls
// (writeSchedulerConfig).
func (c *Cluster) releases() []release {
	tag := c.images.tag
	// What both driver charts get: the local images, the pod webhook, and
	// the deletion of a deleted node's claims, which the charts ship off
	// and TestE2ENodeDeletion checks.
	driver := fmt.Sprintf(`imagePullPolicy: Never
controller:
  image: {tag: %[1]q}
  deleteClaimsOfDeletedNodes: true
node:
  image: {tag: %[1]q}
webhook:
  enabled: true
`, tag)
	return []release{
		{name: "topolvm", namespace: "topolvm-system", chart: "topolvm", values: driver + fmt.Sprintf(`lvmd:
  image: {tag: %[1]q}
  config:
    # DEVELOPMENT ONLY: LVs get loop devices (no device-mapper here).
    activation: development-loop
    deviceClasses:
      - name: ssd
        volumeGroup: %[2]s
        default: true
        spare: 1Gi
      - name: %[3]s
        volumeGroup: %[4]s
        spare: %[5]s
storageClasses:
  - name: topolvm-provisioner
  - name: topolvm-%[3]s
    deviceClass: %[3]s
`, tag, vgName, smallClass, smallVG, smallVGSpare)},
		{name: "topols", namespace: "topols-system", chart: "topols", values: driver + fmt.Sprintf(`btrfsd:
  image: {tag: %[1]q}
  config:
    pollInterval: 1s
    pools:
      - name: default
        path: %[2]s
        default: true
        enableQuota: true
      - name: %[3]s
        path: %[4]s
        budget: %[5]s
        enableQuota: true
storageClasses:
  - name: topols-provisioner
  - name: topols-%[3]s
    deviceClass: %[3]s
`, tag, poolPath, smallClass, smallPoolPath, smallPoolBudget)},
		{name: schedulerRelease, namespace: schedulerNamespace, chart: "topolvm-scheduler", values: fmt.Sprintf(`imagePullPolicy: Never
image: {tag: %q}
`, tag)},
	}
}

// helm runs the helm of make tools-e2e against the cluster, with its
// caches and config in the lab.
func (c *Cluster) helm(ctx context.Context, args ...string) (string, error) {
	h := c.o.path("helm")
	env := []string{"KUBECONFIG=" + c.o.Kubeconfig(), "HELM_CACHE_HOME=" + h + "/cache",
		"HELM_CONFIG_HOME=" + h + "/config", "HELM_DATA_HOME=" + h + "/data"}
	return run(ctx, env, c.o.tool("helm"), args...)
}

// installSuite installs both drivers and the scheduler extender with helm
// install --wait, in parallel.
func (c *Cluster) installSuite(ctx context.Context) error {
	rels := c.releases()
	errs := make(chan error, len(rels))
	for _, r := range rels {
		go func(r release) {
			t := time.Now()
			file := c.o.path("values-" + r.name + ".yaml")
			if err := os.WriteFile(file, []byte(r.values), 0o644); err != nil {
				errs <- err
				return
			}
			_, err := c.helm(ctx, "install", r.name, filepath.Join(c.o.Repo, "deploy", "charts", r.chart),
				"--namespace", r.namespace, "--create-namespace", "--values", file, "--wait", "--timeout", "10m")
			if err != nil {
				errs <- fmt.Errorf("helm install %s: %w", r.name, err)
				return
			}
			c.logf("helm install %s (chart deploy/charts/%s, namespace %s, values %s): ready in %.1f s",
				r.name, r.chart, r.namespace, file, time.Since(t).Seconds())
			errs <- nil
		}(r)
	}
	var first error
	for range rels {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}
