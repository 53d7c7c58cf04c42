//go:build integration

package scheduler_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/toposuite/toposuite/internal/api/topolvm/v1"
	"github.com/toposuite/toposuite/internal/testcluster"
	"github.com/toposuite/toposuite/internal/testutil"
	"github.com/toposuite/toposuite/scheduler"
)

// extenderSetup is one topolvm-scheduler and one kube-scheduler using it.
type extenderSetup struct {
	stopExtender context.CancelFunc
	stopped      chan error
}

// startSchedulers runs topolvm-scheduler in-process and the real
// kube-scheduler (v1.36.3 from the tools) configured with it.
func startSchedulers(t *testing.T, cl *testcluster.Cluster, scoring string, nodeCache bool) *extenderSetup {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &scheduler.Config{Scoring: scoring, Drivers: []string{cl.Driver.Name}}
	c.Default()
	ctx, cancel := context.WithCancel(context.Background())
	s := &extenderSetup{stopExtender: cancel, stopped: make(chan error, 1)}
	go func() {
		s.stopped <- scheduler.Run(ctx, scheduler.Options{Config: c, RestConfig: cl.Config, Log: testr.New(t).WithName("extender"), Listener: l})
	}()
	t.Cleanup(func() { cancel(); <-s.stopped })
	testutil.Eventually(t, "extender ready", func() bool {
		resp, err := (&net.Dialer{}).DialContext(ctx, "tcp", l.Addr().String())
		if err == nil {
			resp.Close()
		}
		return err == nil
	})
	cfg := fmt.Sprintf(`apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection: {kubeconfig: %q, qps: 100, burst: 200}
leaderElection: {leaderElect: false}
extenders:
  - urlPrefix: "http://%s"
    filterVerb: filter
    prioritizeVerb: prioritize
    weight: 10
    nodeCacheCapable: %v
    ignorable: false
    managedResources:
      - {name: %s, ignoredByScheduler: true}
`, cl.Kubeconfig, l.Addr(), nodeCache, cl.Driver.CapacityResource())
	path := filepath.Join(t.TempDir(), "scheduler.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	testutil.Process(t, testutil.Tool(t, "kube-scheduler"), "--config", path, "--secure-port=0", "-v=4")
	return s
}

// capacityPod is a pod as the pod webhook leaves it: a claim of the
// driver's class, the capacity annotation and the extended resource.
func capacityPod(cl *testcluster.Cluster, name string, bytes int64) (*corev1.PersistentVolumeClaim, *corev1.Pod) {
	sc := cl.StorageClass
	q := *resource.NewQuantity(bytes, resource.BinarySI)
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, StorageClassName: &sc,
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: q}}}}
	one := corev1.ResourceList{corev1.ResourceName(cl.Driver.CapacityResource()): resource.MustParse("1")}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default",
		Annotations: map[string]string{cl.Driver.CapacityAnnotation("ssd"): strconv.FormatInt(bytes, 10)}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "none", Resources: corev1.ResourceRequirements{Requests: one, Limits: one}}},
			Volumes: []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: name}}}}}}
	return pvc, pod
}

func create(t *testing.T, c client.Client, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := c.Create(t.Context(), o); err != nil {
			t.Fatal(err)
		}
	}
}

func nodeOf(t *testing.T, c client.Client, name string) string {
	t.Helper()
	var pod corev1.Pod
	testutil.Eventually(t, "pod "+name+" bound to a node", func() bool {
		return c.Get(t.Context(), client.ObjectKey{Namespace: "default", Name: name}, &pod) == nil && pod.Spec.NodeName != ""
	})
	return pod.Spec.NodeName
}

func eventsAbout(t *testing.T, c client.Client, name string) string {
	var evs corev1.EventList
	if err := c.List(t.Context(), &evs, client.InNamespace("default")); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs.Items {
		if e.InvolvedObject.Name == name {
			out = append(out, e.Reason+": "+e.Message)
		}
	}
	return strings.Join(out, "\n")
}

func deleteAll(t *testing.T, c client.Client) {
	t.Helper()
	zero := int64(0)
	_ = c.DeleteAllOf(t.Context(), &corev1.Pod{}, client.InNamespace("default"), client.GracePeriodSeconds(zero))
	_ = c.DeleteAllOf(t.Context(), &corev1.PersistentVolumeClaim{}, client.InNamespace("default"))
	testutil.Eventually(t, "every volume gone", func() bool {
		var lvs v1.LogicalVolumeList
		var pods corev1.PodList
		return c.List(t.Context(), &lvs) == nil && len(lvs.Items) == 0 && c.List(t.Context(), &pods) == nil && len(pods.Items) == 0
	})
}

// TestIntegrationExtenderWithKubeScheduler runs the real kube-scheduler
// with topolvm-scheduler over three nodes of different sizes, each with
// its own lvmd, through the real csi-provisioner and
// kube-controller-manager (WaitForFirstConsumer).
func TestIntegrationExtenderWithKubeScheduler(t *testing.T) {
	cl := testcluster.Start(t, testcluster.Options{Driver: "topolvm.io", Binding: "WaitForFirstConsumer",
		NodeBytes: []int64{4 << 30, 8 << 30, 16 << 30}})
	c := cl.Client

	for _, tc := range []struct {
		scoring   string
		nodeCache bool
		want      string
	}{
		{scheduler.ScoringSpread, true, "node-3"},
		{scheduler.ScoringBinpack, false, "node-1"},
	} {
		t.Run(fmt.Sprintf("%s nodeCacheCapable=%v", tc.scoring, tc.nodeCache), func(t *testing.T) {
			startSchedulers(t, cl, tc.scoring, tc.nodeCache)
			pvc, pod := capacityPod(cl, "placed", 1<<30)
			create(t, c, pvc, pod)
			if got := nodeOf(t, c, "placed"); got != tc.want {
				t.Errorf("pod went to %s, want %s", got, tc.want)
			}
			// A pod that fits nowhere stays Pending with the extender's reason.
			pvc, pod = capacityPod(cl, "too-big", 20<<30)
			create(t, c, pvc, pod)
			testutil.Eventually(t, "FailedScheduling naming the lack of capacity", func() bool {
				ev := eventsAbout(t, c, "too-big")
				return strings.Contains(ev, "FailedScheduling") && strings.Contains(ev, "not enough topolvm.io class ssd")
			})
			var p corev1.Pod
			if err := c.Get(t.Context(), client.ObjectKey{Namespace: "default", Name: "too-big"}, &p); err != nil || p.Spec.NodeName != "" {
				t.Errorf("the pod that fits nowhere was placed on %q (%v)", p.Spec.NodeName, err)
			}
			t.Logf("events of too-big:\n%s", eventsAbout(t, c, "too-big"))
			deleteAll(t, c)
		})
	}

	t.Run("burst that exactly fills the nodes", func(t *testing.T) {
		// binpack sends every pod to the fullest node that fits: without
		// the ledger and the in-flight pods, a burst piles onto one node.
		startSchedulers(t, cl, scheduler.ScoringBinpack, true)
		frees := map[string]int64{}
		for _, name := range cl.Nodes {
			var node corev1.Node
			if err := c.Get(t.Context(), client.ObjectKey{Name: name}, &node); err != nil {
				t.Fatal(err)
			}
			frees[name], _ = strconv.ParseInt(node.Annotations[cl.Driver.CapacityAnnotation("ssd")], 10, 64)
			if _, ok := node.Annotations[cl.Driver.CapacityRevisionAnnotation()]; !ok {
				// Without revisions a created volume counts as visible at once,
				// and a burst can race the node's figures by up to their 200 ms
				// debounce (seen in CI): the guarantee needs both halves.
				t.Skip("the node plugins do not publish capacity revisions yet (node-side half of the burst guarantee, in progress)")
			}
		}
		// A third of the smallest node, in whole 4 MiB extents: the nodes
		// take 3, 6 and 12 such volumes, and less than one more each.
		const extent = 4 << 20
		size := frees[cl.Nodes[0]] / 3 / extent * extent
		want, total := map[string]int{}, 0
		for n, f := range frees {
			want[n] = int(f / size)
			total += want[n]
		}
		var objs []client.Object
		for i := range total {
			pvc, pod := capacityPod(cl, fmt.Sprintf("burst-%02d", i), size)
			objs = append(objs, pvc, pod)
		}
		start := time.Now()
		create(t, c, objs...)
		perNodeCount := map[string]int{}
		for i := range total {
			perNodeCount[nodeOf(t, c, fmt.Sprintf("burst-%02d", i))]++
		}
		t.Logf("%d pods scheduled and provisioned in %v: %v", total, time.Since(start).Round(time.Millisecond), perNodeCount)
		var evs corev1.EventList
		if err := c.List(t.Context(), &evs, client.InNamespace("default")); err != nil {
			t.Fatal(err)
		}
		for _, e := range evs.Items {
			if strings.Contains(e.Message, "ResourceExhausted") || e.Reason == "ProvisioningFailed" {
				t.Errorf("event %s %s: %s", e.InvolvedObject.Name, e.Reason, e.Message)
			}
		}
		for _, n := range cl.Nodes {
			if perNodeCount[n] != want[n] {
				t.Errorf("%s got %d pods, want %d: %v", n, perNodeCount[n], want[n], perNodeCount)
			}
		}
		deleteAll(t, c)
	})

	t.Run("extender down", func(t *testing.T) {
		s := startSchedulers(t, cl, scheduler.ScoringSpread, true)
		s.stopExtender()
		<-s.stopped
		s.stopped <- nil // for the cleanup
		pvc, pod := capacityPod(cl, "orphan", 1<<30)
		create(t, c, pvc, pod)
		testutil.Eventually(t, "FailedScheduling naming the extender", func() bool {
			ev := eventsAbout(t, c, "orphan")
			return strings.Contains(ev, "FailedScheduling") && strings.Contains(ev, "/filter")
		})
		t.Logf("events of orphan:\n%s", eventsAbout(t, c, "orphan"))
		deleteAll(t, c)
	})
}
