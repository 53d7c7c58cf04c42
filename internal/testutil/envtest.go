package testutil

import (
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/toposuite/toposuite/csi"
	"github.com/toposuite/toposuite/internal/scheme"
)

// repoRoot is the module's root directory (for the CRDs).
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

var quietLibraries sync.Once

// APIServer starts a real etcd and kube-apiserver (envtest) with the suite's
// CRDs installed and stops them at cleanup. The binaries come from
// KUBEBUILDER_ASSETS (make test points it at the e2e tools cache). Without
// them the test is skipped, unless TOPOSUITE_REQUIRE_ENVTEST is set (as
// make test does), where it fails.
func APIServer(t testing.TB) (*rest.Config, client.Client) {
	t.Helper()
	assets := filepath.Dir(Tool(t, "kube-apiserver"))
	Tool(t, "etcd")
	quietLibraries.Do(func() { ctrllog.SetLogger(logr.Discard()) }) // envtest logs through the global logger
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths: []string{
			filepath.Join(repoRoot(), "deploy", "charts", "topolvm", "crds"),
			filepath.Join(repoRoot(), "deploy", "charts", "topolvm-operator", "crds"),
		},
		ErrorIfCRDPathMissing: true,
	}
	// Tests need no durability: etcd skips fsync (TESTBED.md §5).
	env.ControlPlane.Etcd = &envtest.Etcd{}
	env.ControlPlane.Etcd.Configure().Append("unsafe-no-fsync", "true")
	cfg, err := env.Start()
	if err != nil {
		_ = env.Stop() // Start may fail after etcd and the API server came up
		t.Fatalf("start envtest: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stop envtest: %v", err)
		}
	})
	s, err := scheme.New()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: s})
	if err != nil {
		t.Fatal(err)
	}
	return cfg, c
}

// Node creates a Node object (there is no kubelet under envtest).
func Node(t testing.TB, c client.Client, name string) {
	t.Helper()
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := c.Create(t.Context(), n); err != nil {
		t.Fatal(err)
	}
}

// RegisterCSINode writes what node-driver-registrar and the kubelet would
// for driver d on a node (there is no kubelet under envtest): the topology
// label and the CSINode object.
func RegisterCSINode(t testing.TB, c client.Client, d csi.Driver, name string) {
	t.Helper()
	var node corev1.Node
	if err := c.Get(t.Context(), client.ObjectKey{Name: name}, &node); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(node.DeepCopy())
	if node.Labels == nil {
		node.Labels = map[string]string{}
	}
	node.Labels[d.TopologyKey] = name
	if err := c.Patch(t.Context(), &node, patch); err != nil {
		t.Fatal(err)
	}
	if err := c.Create(t.Context(), &storagev1.CSINode{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: storagev1.CSINodeSpec{Drivers: []storagev1.CSINodeDriver{
		{Name: d.Name, NodeID: name, TopologyKeys: []string{d.TopologyKey}}}}}); err != nil {
		t.Fatal(err)
	}
}
