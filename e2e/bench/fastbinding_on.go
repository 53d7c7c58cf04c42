package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	toposuitecsi "github.com/toposuite/toposuite/csi"
	"github.com/toposuite/toposuite/e2e/cluster"
)

// driverReleases are the drivers' Helm releases as the local cluster
// installs them (release, chart and namespace share the driver's short name).
var driverReleases = map[string]string{"topolvm.io": "topolvm", "topols.io": "topols"}

// EnableFastBinding turns fast binding on in the driver's release, keeping
// its other values: the charts ship it off (it needs update rights on every
// claim and volume), and the drivers' rows of the benchmark measure it on.
// It returns once the controller replica that leads, the one fast binding
// runs on, is one started with it.
func EnableFastBinding(ctx context.Context, c *cluster.Cluster, cs kubernetes.Interface, d Driver) error {
	rel, ok := driverReleases[d.Name]
	if !ok {
		return fmt.Errorf("no release of %s", d.Name)
	}
	if out, err := c.Helm(ctx, "upgrade", rel, filepath.Join(c.Repo(), "deploy", "charts", rel), "--namespace", d.Namespace,
		"--reset-then-reuse-values", "--set", "controller.fastBinding=true", "--wait", "--timeout", "10m"); err != nil {
		return fmt.Errorf("helm upgrade %s with fast binding: %w\n%s", rel, err, out)
	}
	// The leader election lease of topolvm-controller (controllerplugin);
	// its holder identity starts with the pod's name.
	lease := toposuitecsi.Driver{Name: d.Name}.ShortName() + "-controller." + d.Name
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if leaderHasFastBinding(ctx, cs, d.Namespace, lease) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: no controller started with --fast-binding=true leads (lease %s)", d.Name, lease)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func leaderHasFastBinding(ctx context.Context, cs kubernetes.Interface, namespace, lease string) bool {
	l, err := cs.CoordinationV1().Leases(namespace).Get(ctx, lease, metav1.GetOptions{})
	if err != nil || l.Spec.HolderIdentity == nil {
		return false
	}
	name, _, _ := strings.Cut(*l.Spec.HolderIdentity, "_")
	pod, err := cs.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil || pod.DeletionTimestamp != nil {
		return false
	}
	for _, ctr := range pod.Spec.Containers {
		if ctr.Name == "controller" {
			return slices.Contains(ctr.Args, "--fast-binding=true")
		}
	}
	return false
}
