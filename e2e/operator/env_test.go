//go:build e2e

package operator

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/toposuite/toposuite/e2e/cluster"
	"github.com/toposuite/toposuite/internal/api/operator/v1alpha1"
	"github.com/toposuite/toposuite/internal/scheme"
)

// namespace is where the operator and the suite run.
const namespace = "toposuite-system"

// env is the cluster under test and a client for it.
type env struct {
	t *testing.T
	c *cluster.Cluster
	k client.Client
}

// up starts a cluster of two nodes without the suite, each with three
// blank loop devices, or skips without root (fails under make test).
func up(t *testing.T) *env {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("TOPOSUITE_REQUIRE_ENVTEST") != "" {
			t.Fatal("the operator's end-to-end test needs root")
		}
		t.Skip("needs root (the local cluster)")
	}
	dir := os.Getenv("TOPOSUITE_E2E_OPERATOR_DIR")
	if dir == "" {
		dir = "/var/tmp/toposuite-e2e-operator"
	}
	ctx := context.Background()
	c, err := cluster.Up(ctx, cluster.Options{Dir: dir, Nodes: 2, SpareDisks: 3, Out: os.Stdout,
		ExtraImages:     []string{"topolvm-operator", "lvmd", "btrfsd"},
		ExtenderService: extenderService}, cluster.UpOptions{NoSuite: true})
	if err != nil {
		t.Fatalf("cluster up: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			diagnose(t, c.Client())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if err := c.Down(ctx); err != nil {
			t.Errorf("cluster down: %v", err)
		}
	})
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	s, err := scheme.New()
	if err != nil {
		t.Fatal(err)
	}
	// The test checks the LogicalVolume CRD outlives the TopolvmCluster.
	if err := apiextensionsv1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	k, err := client.New(cfg, client.Options{Scheme: s})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, c: c, k: k}
}

// installOperator installs the operator's chart with the local images; its
// agents report loop devices (the only disks here) every 30 s.
func (e *env) installOperator(ctx context.Context) {
	e.t.Helper()
	values := filepath.Join(e.t.TempDir(), "operator-values.yaml")
	body := fmt.Sprintf("image: {tag: %q}\nimagePullPolicy: Never\nagent: {includeLoop: true, interval: 30s}\n", e.c.ImageTag())
	if err := os.WriteFile(values, []byte(body), 0o644); err != nil {
		e.t.Fatal(err)
	}
	t0 := time.Now()
	if out, err := e.c.Helm(ctx, "install", "topolvm-operator", filepath.Join(e.c.Repo(), "deploy", "charts", "topolvm-operator"),
		"--namespace", namespace, "--create-namespace", "--values", values, "--wait", "--timeout", "3m"); err != nil {
		e.t.Fatalf("helm install topolvm-operator: %v\n%s", err, out)
	}
	e.t.Logf("operator installed and ready in %.1f s", time.Since(t0).Seconds())
}

// eventually polls cond every half second until it holds or timeout
// passes; what names the wait in the failure, with the last state.
func (e *env) eventually(ctx context.Context, what string, timeout time.Duration, cond func() (bool, string)) {
	e.t.Helper()
	var last string
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		ok, state := cond()
		last = state
		return ok, nil
	})
	if err != nil {
		e.t.Fatalf("%s: not within %v; last: %s", what, timeout, last)
	}
}

// cluster reads the TopolvmCluster.
func (e *env) cluster(ctx context.Context) (*v1alpha1.TopolvmCluster, error) {
	var tc v1alpha1.TopolvmCluster
	err := e.k.Get(ctx, client.ObjectKey{Name: v1alpha1.ClusterName}, &tc)
	return &tc, err
}

// waitCondition waits until the TopolvmCluster's status describes its
// latest spec and condition typ has status want; it returns the cluster.
func (e *env) waitCondition(ctx context.Context, typ string, want metav1.ConditionStatus, timeout time.Duration, also func(*v1alpha1.TopolvmCluster) bool) *v1alpha1.TopolvmCluster {
	e.t.Helper()
	var tc *v1alpha1.TopolvmCluster
	e.eventually(ctx, fmt.Sprintf("TopolvmCluster %s=%s", typ, want), timeout, func() (bool, string) {
		var err error
		if tc, err = e.cluster(ctx); err != nil {
			return false, err.Error()
		}
		c := meta.FindStatusCondition(tc.Status.Conditions, typ)
		ok := tc.Status.ObservedGeneration == tc.Generation && c != nil && c.Status == want && (also == nil || also(tc))
		return ok, fmt.Sprintf("generation %d, observed %d, conditions %+v, nodes %+v", tc.Generation, tc.Status.ObservedGeneration, tc.Status.Conditions, tc.Status.Nodes)
	})
	return tc
}

// updateSpec changes the TopolvmCluster's spec (retrying on conflict).
func (e *env) updateSpec(ctx context.Context, change func(*v1alpha1.TopolvmClusterSpec)) {
	e.t.Helper()
	for range 10 {
		tc, err := e.cluster(ctx)
		if err != nil {
			e.t.Fatal(err)
		}
		change(&tc.Spec)
		if err = e.k.Update(ctx, tc); err == nil {
			return
		}
		e.t.Logf("update TopolvmCluster: %v; again", err)
	}
	e.t.Fatal("TopolvmCluster not updated after 10 tries")
}

// capacity is node's CSIStorageCapacity for storageClass, in bytes, or -1.
func (e *env) capacity(ctx context.Context, storageClass, node string) int64 {
	var list storagev1.CSIStorageCapacityList
	if err := e.k.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return -1
	}
	for _, c := range list.Items {
		if c.StorageClassName != storageClass || c.NodeTopology == nil || c.Capacity == nil {
			continue
		}
		for _, v := range c.NodeTopology.MatchLabels {
			if v == node {
				return c.Capacity.Value()
			}
		}
	}
	return -1
}

// nodeStatus is node's entry in the status.
func nodeStatus(tc *v1alpha1.TopolvmCluster, node string) (v1alpha1.NodeStatus, bool) {
	for _, n := range tc.Status.Nodes {
		if n.Name == node {
			return n, true
		}
	}
	return v1alpha1.NodeStatus{}, false
}

// storage finds name among a node's volume groups or pools.
func storage(list []v1alpha1.StorageStatus, name string) (v1alpha1.StorageStatus, bool) {
	for _, s := range list {
		if s.Name == name {
			return s, true
		}
	}
	return v1alpha1.StorageStatus{}, false
}

// workloads lists the Deployments and DaemonSets in the namespace whose
// names start with prefix, but the operator's own (its chart's).
func (e *env) workloads(ctx context.Context, prefix string) []string {
	e.t.Helper()
	var out []string
	var ds appsv1.DaemonSetList
	var dep appsv1.DeploymentList
	if err := e.k.List(ctx, &ds, client.InNamespace(namespace)); err != nil {
		e.t.Fatal(err)
	}
	if err := e.k.List(ctx, &dep, client.InNamespace(namespace)); err != nil {
		e.t.Fatal(err)
	}
	for _, d := range ds.Items {
		if strings.HasPrefix(d.Name, prefix) && !strings.HasPrefix(d.Name, "topolvm-operator") {
			out = append(out, "DaemonSet "+d.Name)
		}
	}
	for _, d := range dep.Items {
		if strings.HasPrefix(d.Name, prefix) && !strings.HasPrefix(d.Name, "topolvm-operator") {
			out = append(out, "Deployment "+d.Name)
		}
	}
	return out
}
