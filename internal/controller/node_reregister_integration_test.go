//go:build integration

package controller_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/rest"
	mount "k8s.io/mount-utils"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/toposuite/toposuite/btrfsd"
	btrfsconfig "github.com/toposuite/toposuite/btrfsd/config"
	"github.com/toposuite/toposuite/csi"
	"github.com/toposuite/toposuite/internal/controller"
	"github.com/toposuite/toposuite/internal/daemon"
	"github.com/toposuite/toposuite/internal/nodeplugin"
	"github.com/toposuite/toposuite/internal/scheme"
	"github.com/toposuite/toposuite/internal/testutil"
)

// TestIntegrationNodeRegisteredAgain deletes a Node under a running node
// plugin and the controller's NodeCleanup and creates it again, as a
// kubelet does when its Node object is deleted: the new Node gets the
// capacity annotations and a revision from the node plugin although the
// capacity did not change, and with them the controller's finalizer.
func TestIntegrationNodeRegisteredAgain(t *testing.T) {
	testutil.RequireRoot(t)
	const node = "node-1"
	d := csi.BtrfsDriver("topols.io")
	start := btrfsPool(t)
	cfg, c := testutil.APIServer(t)
	testutil.Node(t, c, node)
	log := testr.NewWithInterface(t, testr.Options{})

	s, _ := scheme.New()
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: s, Metrics: metricsserver.Options{BindAddress: "0"}})
	if err != nil {
		t.Fatal(err)
	}
	cleanup := &controller.NodeCleanup{Client: mgr.GetClient(), Driver: d, Log: log.WithName("cleanup")}
	if err := cleanup.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	runNodePlugin(t, cfg, d, node, start)

	bg := testutil.Context(t)
	// published returns the Node when it carries the capacity annotations,
	// a revision and the controller's finalizer.
	published := func() *corev1.Node {
		var n corev1.Node
		if err := c.Get(bg, client.ObjectKey{Name: node}, &n); err != nil {
			return nil
		}
		rev, _ := strconv.ParseInt(n.Annotations[d.CapacityRevisionAnnotation()], 10, 64)
		free, _ := strconv.ParseInt(n.Annotations[d.CapacityAnnotation("")], 10, 64)
		if rev <= 0 || free <= 0 || n.Annotations[d.CapacityAnnotation("fast")] == "" ||
			!controllerutil.ContainsFinalizer(&n, cleanup.Finalizer()) {
			return nil
		}
		return &n
	}
	var first *corev1.Node
	testutil.Eventually(t, "the first Node to be published and protected", func() bool { first = published(); return first != nil })

	if err := c.Delete(bg, first); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the Node to go", func() bool { return c.Get(bg, client.ObjectKey{Name: node}, &corev1.Node{}) != nil })
	testutil.Node(t, c, node)
	var again *corev1.Node
	testutil.Eventually(t, "the Node registered again to be published and protected", func() bool { again = published(); return again != nil })
	if again.UID == first.UID {
		t.Fatalf("the Node was not made anew (UID %s)", again.UID)
	}
	if got, want := again.Annotations[d.CapacityAnnotation("")], first.Annotations[d.CapacityAnnotation("")]; got != want {
		t.Errorf("the new Node shows %s bytes free, the first showed %s with no change since", got, want)
	}
	r1, _ := strconv.ParseInt(first.Annotations[d.CapacityRevisionAnnotation()], 10, 64)
	r2, _ := strconv.ParseInt(again.Annotations[d.CapacityRevisionAnnotation()], 10, 64)
	if r2 <= r1 {
		t.Errorf("the new Node's revision %d is not above the first's %d", r2, r1)
	}
}

// runNodePlugin runs a node plugin of driver d over the daemon start makes,
// for node, until the test ends.
func runNodePlugin(t *testing.T, cfg *rest.Config, d csi.Driver, node string, start func(context.Context) (*daemon.Instance, error)) {
	t.Helper()
	dir := testutil.Dir(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- nodeplugin.Run(ctx, nodeplugin.Options{
			Driver: d, NodeName: node, CSISocket: filepath.Join(dir, "node.sock"), TargetRoot: dir,
			Embedded: start, Publisher: csi.NewDirPublisher(mount.New("")),
			MetricsAddress: "0", HealthAddress: "0", RestConfig: cfg,
			Log: testr.NewWithInterface(t, testr.Options{}).WithName("node"),
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("node plugin: %v", err)
		}
	})
}

// btrfsPool makes a btrfs filesystem with a pool "fast", the default class,
// and returns the start of a btrfsd over it.
func btrfsPool(t *testing.T) func(context.Context) (*daemon.Instance, error) {
	t.Helper()
	mnt := testutil.Btrfs(t, 1<<30, true)
	pool := filepath.Join(mnt, "pool")
	if err := os.Mkdir(pool, 0o755); err != nil {
		t.Fatal(err)
	}
	// A budget well under the filesystem's free space, so that the
	// available bytes are the budget's: each volume's limit takes from it.
	budget := resource.MustParse("256Mi")
	cfg := &btrfsconfig.Config{Pools: []btrfsconfig.Pool{{Name: "fast", Path: pool, Default: true, Budget: &budget}}}
	cfg.Default()
	return func(ctx context.Context) (*daemon.Instance, error) {
		return btrfsd.Start(ctx, cfg, testr.NewWithInterface(t, testr.Options{}).WithName("btrfsd"))
	}
}
