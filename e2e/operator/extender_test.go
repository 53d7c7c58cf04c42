//go:build e2e

package operator

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/toposuite/toposuite/e2e/cluster"
	"github.com/toposuite/toposuite/internal/api/operator/v1alpha1"
)

// extenderService is the Service the operator renders for topolvm-scheduler
// (its release name, in the operator's namespace); the cluster's
// kube-scheduler reaches it through the host's service proxy.
var extenderService = cluster.ServiceRef{Namespace: namespace, Name: "topolvm-scheduler"}

// checkExtender switches the TopolvmCluster to the scheduler extender with
// both drivers' pod webhooks, waits for the rollout, and checks that a pod
// with a WaitForFirstConsumer PVC of TopoLVM gets the webhook's capacity
// annotation and is placed by kube-scheduler after asking the extender
// (the extender's filter requests grow).
func (e *env) checkExtender(ctx context.Context) {
	e.t.Helper()
	t0 := time.Now()
	e.updateSpec(ctx, func(s *v1alpha1.TopolvmClusterSpec) {
		s.Components.Scheduler.Mode = v1alpha1.SchedulerExtender
		s.Components.Webhook.Enabled = true
	})
	e.waitCondition(ctx, v1alpha1.ConditionProgressing, metav1.ConditionFalse, 5*time.Minute, nil)
	var d appsv1.Deployment
	if err := e.k.Get(ctx, client.ObjectKey{Namespace: extenderService.Namespace, Name: extenderService.Name}, &d); err != nil {
		e.t.Fatalf("the extender's Deployment: %v", err)
	}
	if d.Spec.Replicas == nil || d.Status.ReadyReplicas != *d.Spec.Replicas || d.Status.ReadyReplicas == 0 {
		e.t.Fatalf("the extender's Deployment: %d of %v replicas ready", d.Status.ReadyReplicas, d.Spec.Replicas)
	}
	// The proxy follows the Service's endpoints every second: kube-scheduler
	// skips an extender it cannot reach (ignorable), so wait for the path.
	e.eventually(ctx, "the extender through kube-scheduler's service proxy", time.Minute, func() (bool, string) {
		r, err := http.Get(e.c.ExtenderURL() + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		r.Body.Close()
		return r.StatusCode == http.StatusOK, r.Status
	})
	e.t.Logf("Extender mode with the webhook rolled out in %.1f s", time.Since(t0).Seconds())

	before := e.filterRequests(ctx)
	w, err := e.c.WriteToNewPVC(ctx, "default", "via-extender", lvmSC, 8)
	if err != nil {
		e.t.Fatalf("a PVC in Extender mode: %v", err)
	}
	var pod corev1.Pod
	if err := e.k.Get(ctx, client.ObjectKey{Namespace: w.Namespace, Name: w.Pod}, &pod); err != nil {
		e.t.Fatal(err)
	}
	key := "capacity.topolvm.io/" + class
	if n, err := strconv.ParseInt(pod.Annotations[key], 10, 64); err != nil || n < gib {
		e.t.Errorf("pod %s: annotation %s is %q, want the PVC's 1Gi or more; annotations %v", w.Pod, key, pod.Annotations[key], pod.Annotations)
	}
	if q, ok := pod.Spec.Containers[0].Resources.Requests["topolvm.io/capacity"]; !ok || q.Value() != 1 {
		e.t.Errorf("pod %s: requests %v, want topolvm.io/capacity 1 (the extender's managed resource)", w.Pod, pod.Spec.Containers[0].Resources.Requests)
	}
	after := e.filterRequests(ctx)
	if after <= before {
		e.t.Errorf("the extender's filter requests went from %v to %v: kube-scheduler did not ask it", before, after)
	}
	e.t.Logf("pod %s annotated %s=%s, placed on %s; extender filter requests %v -> %v",
		w.Pod, key, pod.Annotations[key], w.Node, before, after)
	e.deleteWorkload(ctx, w)
}

// filterRequests sums topolvm_scheduler_requests_total of the verb filter
// over the extender's pods.
func (e *env) filterRequests(ctx context.Context) float64 {
	e.t.Helper()
	var svc corev1.Service
	if err := e.k.Get(ctx, client.ObjectKey{Namespace: extenderService.Namespace, Name: extenderService.Name}, &svc); err != nil {
		e.t.Fatalf("the extender's Service: %v", err)
	}
	var sum float64
	for _, body := range e.podMetrics(ctx, labels.SelectorFromSet(svc.Spec.Selector).String(), "9251") {
		for _, line := range strings.Split(body, "\n") {
			if !strings.HasPrefix(line, "topolvm_scheduler_requests_total{") || !strings.Contains(line, `verb="filter"`) {
				continue
			}
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err != nil {
				e.t.Fatalf("the extender's metrics: %q: %v", line, err)
			}
			sum += v
		}
	}
	return sum
}

// podMetrics reads /metrics of every running pod of the operator's
// namespace that selector matches, through the API server's pod proxy.
func (e *env) podMetrics(ctx context.Context, selector, port string) []string {
	e.t.Helper()
	cs := e.c.Client()
	pods, err := cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil || len(pods.Items) == 0 {
		e.t.Fatalf("pods %s: %d (%v)", selector, len(pods.Items), err)
	}
	var out []string
	for _, p := range pods.Items {
		if p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
			continue
		}
		b, err := cs.CoreV1().Pods(namespace).ProxyGet("http", p.Name, port, "/metrics", nil).DoRaw(ctx)
		if err != nil {
			e.t.Fatalf("/metrics of %s: %v", p.Name, err)
		}
		out = append(out, string(b))
	}
	if len(out) == 0 {
		e.t.Fatalf("pods %s: none running", selector)
	}
	return out
}
