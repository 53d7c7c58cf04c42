package scheduler

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	extenderv1 "k8s.io/kube-scheduler/extender/v1"
	"k8s.io/utils/ptr"
)

// realisticPod is a pod as kube-scheduler sends it after the pod webhook
// marked it: two containers with resources, a claim, the service account
// token volume, the default tolerations, status conditions.
func realisticPod() *corev1.Pod {
	p := capPod("5e1c7a4e-1f4b-4d7e-9a51-0d1f1c6a2a99", map[string]string{
		"capacity.topolvm.io/ssd": strconv.FormatInt(20<<30, 10), "kubectl.kubernetes.io/default-container": "app"})
	p.Name, p.Namespace, p.ResourceVersion, p.CreationTimestamp = "web-7d9c6b5f4-x2k8p", "shop", "987654321", metav1.Now()
	p.Labels = map[string]string{"app.kubernetes.io/name": "web", "app.kubernetes.io/instance": "shop", "pod-template-hash": "7d9c6b5f4"}
	p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-7d9c6b5f4", UID: "0d1f1c6a-2a01-4d7e-9a51-5e1c7a4e1f4b", Controller: ptr.To(true)}}
	res := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("512Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")},
	}
	app := corev1.Container{Name: "app", Image: "registry.example.com/shop/web:v1.42.0", Args: []string{"--port=8080", "--data=/data"},
		Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
		Env:   []corev1.EnvVar{{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
		VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"},
			{Name: "kube-api-access-abcde", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true}},
		Resources: *res.DeepCopy(), TerminationMessagePath: "/dev/termination-log", TerminationMessagePolicy: corev1.TerminationMessageReadFile,
		ImagePullPolicy: corev1.PullIfNotPresent}
	// The webhook's extended resource on the first container.
	app.Resources.Requests["topolvm.io/capacity"] = resource.MustParse("1")
	app.Resources.Limits["topolvm.io/capacity"] = resource.MustParse("1")
	sidecar := corev1.Container{Name: "metrics", Image: "registry.example.com/shop/exporter:v0.9.1", Resources: res,
		TerminationMessagePath: "/dev/termination-log", TerminationMessagePolicy: corev1.TerminationMessageReadFile, ImagePullPolicy: corev1.PullIfNotPresent}
	p.Spec = corev1.PodSpec{Containers: []corev1.Container{app, sidecar}, ServiceAccountName: "default", RestartPolicy: corev1.RestartPolicyAlways,
		TerminationGracePeriodSeconds: ptr.To[int64](30), DNSPolicy: corev1.DNSClusterFirst, SchedulerName: "default-scheduler",
		Priority: ptr.To[int32](0), EnableServiceLinks: ptr.To(true), PreemptionPolicy: ptr.To(corev1.PreemptLowerPriority),
		Volumes: []corev1.Volume{
			{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data-web-0"}}},
			{Name: "kube-api-access-abcde", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{ExpirationSeconds: ptr.To[int64](3607), Path: "token"}},
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}, Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			}, DefaultMode: ptr.To[int32](0o644)}}},
		},
		Tolerations: []corev1.Toleration{
			{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)},
			{Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)},
		}}
	p.Status = corev1.PodStatus{Phase: corev1.PodPending, QOSClass: corev1.PodQOSBurstable, Conditions: []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable", LastTransitionTime: metav1.Now(),
			Message: "0/5000 nodes are available: 5000 node(s) did not have enough free storage."}}}
	return p
}

// nodeWithImages is benchNode (a kubelet-like Node with the capacity
// annotations of both drivers) with n images in benchNode's form.
func nodeWithImages(i, n int) corev1.Node {
	node := benchNode(i)
	node.Status.Images = nil
	for j := range n {
		img := fmt.Sprintf("registry.example.com/team-%d/service-%d", j%5, j)
		node.Status.Images = append(node.Status.Images, corev1.ContainerImage{Names: []string{img + "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", img + ":v1." + strconv.Itoa(j)}, SizeBytes: int64(j+1) << 24})
	}
	return node
}

// requestBody marshals the ExtenderArgs kube-scheduler sends for the
// realistic pod and n nodes with images images each: full Node objects, or
// names only (the nodes then go into e's node cache, as its informer would
// put them).
func requestBody(tb testing.TB, e *Extender, n, images int, full bool) []byte {
	tb.Helper()
	nodes := make([]corev1.Node, n)
	names := make([]string, n)
	for i := range nodes {
		nodes[i] = nodeWithImages(i, images)
		names[i] = nodes[i].Name
		if e != nil {
			e.nodes.Handler().OnAdd(&nodes[i], false)
		}
	}
	args := extenderv1.ExtenderArgs{Pod: realisticPod(), NodeNames: &names}
	if full {
		args = extenderv1.ExtenderArgs{Pod: realisticPod(), Nodes: &corev1.NodeList{Items: nodes}}
	}
	body, err := json.Marshal(args)
	if err != nil {
		tb.Fatal(err)
	}
	return body
}

// TestBodySizeOf5000Nodes measures what kube-scheduler sends for 5,000
// nodes, the largest cluster Kubernetes supports, and checks the default
// limit takes it: go test -run TestBodySizeOf5000Nodes -v ./scheduler/
func TestBodySizeOf5000Nodes(t *testing.T) {
	if testing.Short() {
		t.Skip("marshals 5,000 nodes four times")
	}
	for _, tc := range []struct {
		images int
		full   bool
	}{{0, true}, {20, true}, {50, true}, {20, false}} {
		body := requestBody(t, nil, 5000, tc.images, tc.full)
		what := fmt.Sprintf("full Node objects with %d images each", tc.images)
		if !tc.full {
			what = "node names"
		}
		t.Logf("5,000 nodes, %s: %d bytes (%.1f MiB, %.1f KiB per node)", what, len(body), float64(len(body))/(1<<20), float64(len(body))/5000/1024)
		if len(body) > DefaultBodyLimit {
			t.Errorf("5,000 nodes, %s: %d bytes, over the default limit of %d", what, len(body), DefaultBodyLimit)
		}
	}
}

// annotations returns n distinct capacity annotations of one class each.
func annotations(from, n int) string {
	var s []string
	for i := from; i < from+n; i++ {
		s = append(s, fmt.Sprintf(`"capacity.topolvm.io/c%d":"1073741824"`, i))
	}
	return strings.Join(s, ",")
}

// discardWriter is an http.ResponseWriter that keeps nothing, so the
// benchmark counts the extender's allocations, not a recorder's copy of
// the answer (megabytes: the passing Node objects go back).
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header {
	if w.h == nil {
		w.h = http.Header{}
	}
	return w.h
}
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }

// BenchmarkRequestMemory reports what one filter request allocates in the
// extender (B/op): the handler alone, no network, no recorder.
//
//	go test -run '^$' -bench BenchmarkRequestMemory -benchtime 20x ./scheduler/
//
// full-5000 and names-5000 are 5,000 kubelet-like nodes (20 images each)
// as kube-scheduler sends them, one request after another: the body's
// buffer is reused, so B/op is the decoding and the answer. full-5000-first
// is the first such request of a handler, its body buffer included (about
// the body's size: read once, at its Content-Length). The crafted bodies
// (64 MiB or as many nodes as the extender reads, each node as small as it
// can be) are what a caller could make the extender hold at worst.
func BenchmarkRequestMemory(b *testing.B) {
	e := testExtender(b, nil)
	full := requestBody(b, e, 5000, 20, true)
	names := requestBody(b, e, 5000, 20, false)
	pod, _ := json.Marshal(realisticPod())
	// bare lists n items (item(i) each) after the pod.
	bare := func(item func(i int) string, n int, open, end string) []byte {
		var s strings.Builder
		s.WriteString(`{"Pod":` + string(pod) + `,` + open)
		for i := range n {
			if i > 0 {
				s.WriteByte(',')
			}
			s.WriteString(item(i))
		}
		s.WriteString(end + `}`)
		return []byte(s.String())
	}
	for _, bc := range []struct {
		name  string
		body  []byte
		fresh bool // a new handler per request: no buffer to reuse
	}{
		{"full-5000", full, false},
		{"full-5000-first", full, true},
		{"names-5000", names, false},
		{"crafted-names", bare(func(i int) string { return fmt.Sprintf(`"n%d"`, i) }, maxRequestNodes, `"NodeNames":[`, `]`), false},
		{"crafted-nodes", bare(func(i int) string {
			return fmt.Sprintf(`{"metadata":{"name":"n%d","annotations":{"capacity.topolvm.io/ssd":"1"}}}`, i)
		}, maxRequestNodes, `"Nodes":{"items":[`, `]}`), false},
		{"crafted-annotations", bare(func(i int) string {
			return fmt.Sprintf(`{"metadata":{"name":"n%d","annotations":{%s}}}`, i, annotations(i*5, 5))
		}, maxRequestAnnotations/5, `"Nodes":{"items":[`, `]}`), false},
	} {
		h := e.Handler(DefaultBodyLimit, http.NotFoundHandler())
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if bc.fresh {
					h = e.Handler(DefaultBodyLimit, http.NotFoundHandler())
				}
				r, _ := http.NewRequest(http.MethodPost, FilterPath, bytes.NewReader(bc.body))
				w := &discardWriter{}
				h.ServeHTTP(w, r)
				if w.code != 0 && w.code != http.StatusOK {
					b.Fatalf("status %d", w.code)
				}
			}
			b.ReportMetric(float64(len(bc.body)), "body-bytes")
		})
	}
}
