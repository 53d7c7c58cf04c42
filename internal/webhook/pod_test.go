package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/toposuite/toposuite/csi"
	"github.com/toposuite/toposuite/internal/scheme"
)

const (
	ns  = "app"
	mib = int64(1) << 20
	gib = int64(1) << 30
)

var lvm = csi.LVMDriver("topolvm.io")

func testScheme(t testing.TB) *runtime.Scheme {
	t.Helper()
	s, err := scheme.New()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func storageClass(name, provisioner string, params map[string]string) *storagev1.StorageClass {
	return &storagev1.StorageClass{
		ObjectMeta:        metav1.ObjectMeta{Name: name},
		Provisioner:       provisioner,
		Parameters:        params,
		VolumeBindingMode: ptr.To(storagev1.VolumeBindingWaitForFirstConsumer),
	}
}

func defaultClass(sc *storagev1.StorageClass, created time.Time) *storagev1.StorageClass {
	sc.Annotations = map[string]string{defaultClassKey: "true"}
	sc.CreationTimestamp = metav1.NewTime(created)
	return sc
}

// claimSpec asks for size ("" for no request) of class sc (nil: unset).
func claimSpec(sc *string, size string) corev1.PersistentVolumeClaimSpec {
	spec := corev1.PersistentVolumeClaimSpec{
		AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		StorageClassName: sc,
	}
	if size != "" {
		spec.Resources.Requests = corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}
	}
	return spec
}

func claim(name string, sc *string, size string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       claimSpec(sc, size),
		Status:     corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending},
	}
}

func bound(pvc *corev1.PersistentVolumeClaim) *corev1.PersistentVolumeClaim {
	pvc.Spec.VolumeName = "pv-" + pvc.Name
	pvc.Status.Phase = corev1.ClaimBound
	return pvc
}

func pvcVolume(name, claim string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}
}

func ephemeralVolume(name string, sc *string, size string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{
		VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{Spec: claimSpec(sc, size)}}}}
}

func inlineVolume(name, driver string, attrs map[string]string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{
		Driver: driver, VolumeAttributes: attrs}}}
}

func pod(name string, volumes ...corev1.Volume) *corev1.Pod {
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "app", Image: "busybox"}, {Name: "sidecar", Image: "busybox"}},
			Volumes:    volumes,
		},
	}
}

// The objects every case sees: the driver's classes, another driver's, and
// claims of each.
func cluster() []client.Object {
	return []client.Object{
		storageClass("lvm", "topolvm.io", nil),
		storageClass("lvm-fast", "topolvm.io", map[string]string{"topolvm.io/device-class": "fast"}),
		storageClass("lvm-xfs", "topolvm.io", map[string]string{"csi.storage.k8s.io/fstype": "xfs"}),
		storageClass("ls", "topols.io", nil),
		claim("data", ptr.To("lvm"), "5Gi"),
		claim("logs", ptr.To("lvm"), "3Gi"),
		claim("fast", ptr.To("lvm-fast"), "2Gi"),
		claim("small-xfs", ptr.To("lvm-xfs"), "100Mi"),
		claim("no-request", ptr.To("lvm"), ""),
		claim("other-driver", ptr.To("ls"), "7Gi"),
		claim("no-class", ptr.To(""), "1Gi"),
		claim("default-class", nil, "4Gi"),
		claim("unknown-class", ptr.To("gone"), "1Gi"),
		bound(claim("bound", ptr.To("lvm"), "9Gi")),
		bound(claim("web-0-scratch", ptr.To("lvm"), "6Gi")),
		claim("web-1-scratch", ptr.To("lvm"), "8Gi"),
	}
}

func mutator(t testing.TB, d csi.Driver, objs ...client.Object) *PodMutator {
	t.Helper()
	s := testScheme(t)
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).Build()
	return &PodMutator{Driver: d, Cache: c, API: c, Decoder: admission.NewDecoder(s)}
}

func request(t testing.TB, p *corev1.Pod) admission.Request {
	t.Helper()
	raw, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID: "1", Operation: admissionv1.Create, Namespace: ns, Name: p.Name,
		Kind:   metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
		Object: runtime.RawExtension{Raw: raw},
	}}
}

// annotations are the driver's capacity annotations the mutation wants, by class.
func annotations(d csi.Driver, byClass map[string]int64) map[string]string {
	if byClass == nil {
		return nil
	}
	out := map[string]string{}
	for class, n := range byClass {
		out[d.CapacityAnnotation(class)] = strconv.FormatInt(n, 10)
	}
	return out
}

func TestNeedsAndMutation(t *testing.T) {
	now := time.Now()
	for name, c := range map[string]struct {
		driver csi.Driver
		extra  []client.Object
		pod    *corev1.Pod
		want   map[string]int64 // nil: the pod is left untouched
	}{
		"no volumes": {pod: pod("p")},
		"unbound PVC": {
			pod:  pod("p", pvcVolume("v", "data")),
			want: map[string]int64{"": 5 * gib},
		},
		"two PVCs of one class are summed": {
			pod:  pod("p", pvcVolume("a", "data"), pvcVolume("b", "logs")),
			want: map[string]int64{"": 8 * gib},
		},
		"two classes": {
			pod:  pod("p", pvcVolume("a", "data"), pvcVolume("b", "fast")),
			want: map[string]int64{"": 5 * gib, "fast": 2 * gib},
		},
		"one PVC mounted twice counts once": {
			pod:  pod("p", pvcVolume("a", "data"), pvcVolume("b", "data")),
			want: map[string]int64{"": 5 * gib},
		},
		"no request: the driver's default size": {
			pod:  pod("p", pvcVolume("v", "no-request")),
			want: map[string]int64{"": lvm.DefaultSize},
		},
		"xfs raised to its minimum, as CreateVolume does": {
			pod:  pod("p", pvcVolume("v", "small-xfs")),
			want: map[string]int64{"": 300 * mib},
		},
		"block volume rounded to 4 MiB": {
			extra: []client.Object{func() client.Object {
				pvc := claim("raw", ptr.To("lvm"), "5M")
				pvc.Spec.VolumeMode = ptr.To(corev1.PersistentVolumeBlock)
				return pvc
			}()},
			pod:  pod("p", pvcVolume("v", "raw")),
			want: map[string]int64{"": 8 * mib},
		},
		"bound PVC":                        {pod: pod("p", pvcVolume("v", "bound"))},
		"PVC of another driver":            {pod: pod("p", pvcVolume("v", "other-driver"))},
		"PVC without class":                {pod: pod("p", pvcVolume("v", "no-class"))},
		"PVC of a class that is not there": {pod: pod("p", pvcVolume("v", "unknown-class"))},
		"missing PVC":                      {pod: pod("p", pvcVolume("v", "later"))},
		"only the unbound PVC of the driver counts": {
			pod:  pod("p", pvcVolume("a", "bound"), pvcVolume("b", "other-driver"), pvcVolume("c", "logs")),
			want: map[string]int64{"": 3 * gib},
		},
		"unset class: the driver's default class": {
			extra: []client.Object{defaultClass(storageClass("lvm-default", "topolvm.io", map[string]string{"topolvm.io/device-class": "hdd"}), now)},
			pod:   pod("p", pvcVolume("v", "default-class")),
			want:  map[string]int64{"hdd": 4 * gib},
		},
		"unset class: another driver's default class": {
			extra: []client.Object{defaultClass(storageClass("ls-default", "topols.io", nil), now)},
			pod:   pod("p", pvcVolume("v", "default-class")),
		},
		"unset class: the newest default class wins": {
			extra: []client.Object{
				defaultClass(storageClass("old", "topols.io", nil), now.Add(-time.Hour)),
				defaultClass(storageClass("new", "topolvm.io", nil), now),
			},
			pod:  pod("p", pvcVolume("v", "default-class")),
			want: map[string]int64{"": 4 * gib},
		},
		"unset class without a default class": {pod: pod("p", pvcVolume("v", "default-class"))},
		"generic ephemeral volume": {
			pod:  pod("p", ephemeralVolume("scratch", ptr.To("lvm-fast"), "3Gi")),
			want: map[string]int64{"fast": 3 * gib},
		},
		"generic ephemeral volume of the default class": {
			extra: []client.Object{defaultClass(storageClass("lvm-default", "topolvm.io", nil), now)},
			pod:   pod("p", ephemeralVolume("scratch", nil, "1Gi")),
			want:  map[string]int64{"": gib},
		},
		"generic ephemeral volume of another driver": {pod: pod("p", ephemeralVolume("scratch", ptr.To("ls"), "1Gi"))},
		"generic ephemeral volume whose PVC is bound": {
			pod: pod("web-0", ephemeralVolume("scratch", ptr.To("lvm"), "6Gi")),
		},
		"generic ephemeral volume whose PVC exists unbound": {
			pod:  pod("web-1", ephemeralVolume("scratch", ptr.To("lvm"), "8Gi")),
			want: map[string]int64{"": 8 * gib},
		},
		"generic ephemeral volume of a pod without a name yet": {
			pod: func() *corev1.Pod {
				p := pod("", ephemeralVolume("scratch", ptr.To("lvm"), "2Gi"))
				p.GenerateName = "web-"
				return p
			}(),
			want: map[string]int64{"": 2 * gib},
		},
		"CSI inline ephemeral volume": {
			pod:  pod("p", inlineVolume("v", "topolvm.io", map[string]string{"size": "2Gi", "topolvm.io/device-class": "fast"})),
			want: map[string]int64{"fast": 2 * gib},
		},
		"CSI inline ephemeral volume without a size": {
			pod:  pod("p", inlineVolume("v", "topolvm.io", nil)),
			want: map[string]int64{"": lvm.DefaultSize},
		},
		"CSI inline ephemeral xfs volume": {
			pod: func() *corev1.Pod {
				v := inlineVolume("v", "topolvm.io", map[string]string{"size": "10Mi"})
				v.CSI.FSType = ptr.To("xfs")
				return pod("p", v)
			}(),
			want: map[string]int64{"": 300 * mib},
		},
		"CSI inline ephemeral volume of another driver": {
			pod: pod("p", inlineVolume("v", "topols.io", map[string]string{"size": "2Gi"})),
		},
		"every kind at once": {
			pod: pod("p", pvcVolume("a", "data"), ephemeralVolume("b", ptr.To("lvm-fast"), "1Gi"),
				inlineVolume("c", "topolvm.io", map[string]string{"size": "512Mi"}), pvcVolume("d", "bound"),
				corev1.Volume{Name: "e", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}),
			want: map[string]int64{"": 5*gib + 512*mib, "fast": gib},
		},
		"TopoLS counts its own": {
			driver: csi.BtrfsDriver("topols.io"),
			pod: pod("p", pvcVolume("a", "data"), pvcVolume("b", "other-driver"),
				inlineVolume("c", "topols.io", map[string]string{"size": "1k", "topols.io/device-class": "pool"})),
			want: map[string]int64{"": 7 * gib, "pool": 4 * mib},
		},
	} {
		t.Run(name, func(t *testing.T) {
			d := c.driver
			if d.Name == "" {
				d = lvm
			}
			m := mutator(t, d, append(cluster(), c.extra...)...)
			ctx := context.Background()
			got, err := m.Needs(ctx, ns, c.pod)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]map[string]int64{}
			if c.want != nil {
				want[""] = c.want // no options class in these cases
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("needs (-want +got):\n%s", diff)
			}

			req := request(t, c.pod)
			out, err := m.mutate(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			resp := m.Handle(ctx, req)
			if !resp.Allowed {
				t.Fatalf("pod refused: %+v", resp.Result)
			}
			if c.want == nil {
				if out != nil || len(resp.Patches) != 0 {
					t.Errorf("pod without volumes to count was mutated: %s, patches %v", out, resp.Patches)
				}
				return
			}
			var mutated corev1.Pod
			if err := json.Unmarshal(out, &mutated); err != nil {
				t.Fatal(err)
			}
			checkMutated(t, d, c.pod, &mutated, c.want)
			if len(resp.Patches) == 0 || resp.PatchType == nil {
				t.Error("mutation without a patch")
			}
			// Admitting the mutated pod again changes nothing.
			again := m.Handle(ctx, request(t, &mutated))
			if !again.Allowed || len(again.Patches) != 0 {
				t.Errorf("re-admission of a mutated pod: allowed %v, patches %v", again.Allowed, again.Patches)
			}
		})
	}
}

// checkMutated compares the mutated pod with the original: only the
// driver's annotations and the first container's resource differ.
func checkMutated(t *testing.T, d csi.Driver, orig, got *corev1.Pod, byClass map[string]int64) {
	t.Helper()
	want := orig.DeepCopy()
	want.Annotations = annotations(d, byClass)
	one := resource.MustParse("1")
	want.Spec.Containers[0].Resources = corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceName(d.CapacityResource()): one},
		Limits:   corev1.ResourceList{corev1.ResourceName(d.CapacityResource()): one},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("mutated pod (-want +got):\n%s", diff)
	}
}

func TestMutationKeepsOtherFieldsAndReplacesStaleAnnotations(t *testing.T) {
	m := mutator(t, lvm, cluster()...)
	p := pod("p", pvcVolume("v", "data"))
	p.Annotations = map[string]string{
		lvm.CapacityAnnotation("gone"):   "1",         // stale: replaced
		"capacity.topols.io/00default":   "7",         // the other driver's: kept
		"example.com/note":               "keep me",   // kept
		lvm.CapacityRevisionAnnotation(): "not mine!", // another key of the driver: kept
	}
	p.Spec.Containers[0].Resources = corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), "topols.io/capacity": resource.MustParse("1")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi"), "topols.io/capacity": resource.MustParse("1")},
	}
	out, err := m.mutate(context.Background(), request(t, p))
	if err != nil {
		t.Fatal(err)
	}
	var got corev1.Pod
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	wantAnnotations := map[string]string{
		lvm.CapacityAnnotation(""):       "5368709120",
		"capacity.topols.io/00default":   "7",
		"example.com/note":               "keep me",
		lvm.CapacityRevisionAnnotation(): "not mine!",
	}
	if diff := cmp.Diff(wantAnnotations, got.Annotations); diff != "" {
		t.Errorf("annotations (-want +got):\n%s", diff)
	}
	res := got.Spec.Containers[0].Resources
	if res.Requests.Cpu().MilliValue() != 100 || res.Limits.Memory().Value() != 64*mib {
		t.Errorf("the container's own resources changed: %+v", res)
	}
	for _, rl := range []corev1.ResourceList{res.Requests, res.Limits} {
		if q := rl["topolvm.io/capacity"]; q.Value() != 1 {
			t.Errorf("topolvm.io/capacity %v, want 1", q)
		}
		if q := rl["topols.io/capacity"]; q.Value() != 1 {
			t.Errorf("the other driver's resource is gone: %v", rl)
		}
	}
	if len(got.Spec.Containers[1].Resources.Requests) != 0 {
		t.Errorf("the second container got resources: %+v", got.Spec.Containers[1].Resources)
	}
}

func TestInvalidInlineVolumeIsRefused(t *testing.T) {
	m := mutator(t, lvm, cluster()...)
	for _, size := range []string{"lots", "-1Gi", "0"} {
		resp := m.Handle(context.Background(), request(t, pod("p", inlineVolume("scratch", "topolvm.io", map[string]string{"size": size}))))
		if resp.Allowed || resp.Result == nil || !strings.Contains(resp.Result.Message, `volume "scratch"`) || !strings.Contains(resp.Result.Message, size) {
			t.Errorf("size %q: %+v", size, resp.Result)
		}
	}
	// Another driver's inline volume is none of its business.
	resp := m.Handle(context.Background(), request(t, pod("p", inlineVolume("scratch", "topols.io", map[string]string{"size": "lots"}))))
	if !resp.Allowed {
		t.Errorf("another driver's inline volume refused: %+v", resp.Result)
	}
}

// An API error lets the pod in untouched, with a warning: the failure
// policy of the webhook configuration is Ignore, and an error answer must
// not be stricter than no answer.
func TestAPIErrorsFailOpen(t *testing.T) {
	s := testScheme(t)
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(cluster()...).WithInterceptorFuncs(interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if _, ok := obj.(*corev1.PersistentVolumeClaim); ok {
				return errors.New("connection refused")
			}
			return c.Get(ctx, key, obj, opts...)
		},
	}).Build()
	m := &PodMutator{Driver: lvm, Cache: c, API: c, Decoder: admission.NewDecoder(s)}
	resp := m.Handle(context.Background(), request(t, pod("p", pvcVolume("v", "data"))))
	if !resp.Allowed || len(resp.Patches) != 0 || len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], "connection refused") {
		t.Errorf("response %+v", resp)
	}
}

func TestOnlyCreateIsMutated(t *testing.T) {
	m := mutator(t, lvm, cluster()...)
	req := request(t, pod("p", pvcVolume("v", "data")))
	req.Operation = admissionv1.Update
	if resp := m.Handle(context.Background(), req); !resp.Allowed || len(resp.Patches) != 0 {
		t.Errorf("update: %+v", resp)
	}
	req = request(t, pod("p"))
	req.Object.Raw = []byte("{not json")
	if resp := m.Handle(context.Background(), req); resp.Allowed || resp.Result.Code != 400 {
		t.Errorf("garbage: %+v", resp.Result)
	}
}
