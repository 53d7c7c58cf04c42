//go:build e2e

package cluster

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
)

// env is one end-to-end test's view of the shared cluster: its own
// namespace (named after the test), and helpers that fail the test with
// what the cluster says (events, pod logs) when something does not happen.
type env struct {
	*Cluster
	t   *testing.T
	ctx context.Context
	ns  string
	dyn dynamic.Interface
}

// driverCase is one of the two drivers as installed by the harness.
type driverCase struct {
	name   string // short name in test names
	driver string
	sc     string // the chart's StorageClass (default class, WaitForFirstConsumer)
}

var drivers = []driverCase{
	{name: "topolvm", driver: "topolvm.io", sc: "topolvm-provisioner"},
	{name: "topols", driver: "topols.io", sc: "topols-provisioner"},
}

var (
	logicalVolumes  = schema.GroupVersionResource{Group: "topolvm.io", Version: "v1", Resource: "logicalvolumes"}
	volumeSnapshots = schema.GroupVersionResource{Group: "snapshot.storage.k8s.io", Version: "v1", Resource: "volumesnapshots"}
	snapshotClasses = schema.GroupVersionResource{Group: "snapshot.storage.k8s.io", Version: "v1", Resource: "volumesnapshotclasses"}
)

var nonName = regexp.MustCompile(`[^a-z0-9]+`)

// newEnv gives the test the shared cluster and a fresh namespace.
func newEnv(t *testing.T) *env {
	t.Helper()
	c := sharedCluster(t)
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ns := strings.Trim(nonName.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(ns) > 50 {
		ns = strings.TrimRight(ns[:50], "-")
	}
	e := &env{Cluster: c, t: t, ctx: context.Background(), ns: ns, dyn: dyn}
	if _, err := c.cs.CoreV1().Namespaces().Create(e.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("events in %s:%s", ns, c.events(e.ctx, ns))
		}
	})
	return e
}

// eachDriver runs f as a parallel subtest per driver, each with the
// test's env; the test itself runs in parallel with the others.
func eachDriver(t *testing.T, f func(e *env, d driverCase)) {
	t.Parallel()
	e := newEnv(t)
	for _, d := range drivers {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			f(e.with(t), d)
		})
	}
}

// with is the env for a subtest (same namespace).
func (e *env) with(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// storageClass creates a StorageClass for this test (named after its
// namespace), with the allowed topologies if any, and deletes it at the end.
func (e *env) storageClass(suffix, driver string, params map[string]string, mode storagev1.VolumeBindingMode, allowed ...corev1.TopologySelectorTerm) string {
	e.t.Helper()
	name := e.ns + "-" + suffix
	expand, del := true, corev1.PersistentVolumeReclaimDelete
	sc := &storagev1.StorageClass{
		ObjectMeta: metav1.ObjectMeta{Name: name}, Provisioner: driver, Parameters: params,
		VolumeBindingMode: &mode, AllowVolumeExpansion: &expand, ReclaimPolicy: &del, AllowedTopologies: allowed,
	}
	if _, err := e.cs.StorageV1().StorageClasses().Create(e.ctx, sc, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = e.cs.StorageV1().StorageClasses().Delete(e.ctx, name, metav1.DeleteOptions{}) })
	return name
}

// pinnedSmallClass is a StorageClass of the driver's small device class
// with Immediate binding restricted to one node (allowedTopologies): its
// PVCs are provisioned there at once, without a pod, so neither
// kube-scheduler nor the extender is involved.
func (e *env) pinnedSmallClass(d driverCase, node string) string {
	e.t.Helper()
	return e.storageClass(d.name+"-small-"+node, d.driver, map[string]string{d.driver + "/device-class": smallClass},
		storagev1.VolumeBindingImmediate, corev1.TopologySelectorTerm{MatchLabelExpressions: []corev1.TopologySelectorLabelRequirement{{
			Key: "topology." + d.driver + "/node", Values: []string{node}}}})
}

// claim is a PVC spec; create makes it.
type claim struct {
	name, sc, size string
	block          bool
	dataSource     *corev1.TypedLocalObjectReference
}

func (cl claim) spec() corev1.PersistentVolumeClaimSpec {
	sc := cl.sc
	s := corev1.PersistentVolumeClaimSpec{
		AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		StorageClassName: &sc,
		Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(cl.size)}},
		DataSource:       cl.dataSource,
	}
	if cl.block {
		m := corev1.PersistentVolumeBlock
		s.VolumeMode = &m
	}
	return s
}

func (e *env) createPVC(cl claim) {
	e.t.Helper()
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: cl.name, Namespace: e.ns}, Spec: cl.spec()}
	if _, err := e.cs.CoreV1().PersistentVolumeClaims(e.ns).Create(e.ctx, pvc, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

// vol is a volume of a test pod: mounted at /data<i> (Filesystem) or
// attached as the device /dev/block<i> (Block).
type vol struct {
	src      corev1.VolumeSource
	block    bool
	readOnly bool
}

func pvcVol(name string) vol {
	return vol{src: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: name}}}
}

// pod is a busybox pod running script with vols; a script "" sleeps until
// deleted, for tests that exec into it.
func (e *env) pod(name, script string, vols ...vol) *corev1.Pod {
	if script == "" {
		script = "trap 'exit 0' TERM; while :; do sleep 1; done"
	}
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			TerminationGracePeriodSeconds: new(int64),
			Containers: []corev1.Container{{
				Name: "c", Image: e.ShellImage(), ImagePullPolicy: corev1.PullNever,
				Command: []string{"sh", "-c", "set -e\n" + script},
			}},
		},
	}
	for i, v := range vols {
		n := fmt.Sprintf("v%d", i)
		p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: n, VolumeSource: v.src})
		c := &p.Spec.Containers[0]
		if v.block {
			c.VolumeDevices = append(c.VolumeDevices, corev1.VolumeDevice{Name: n, DevicePath: fmt.Sprintf("/dev/block%d", i)})
		} else {
			c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: n, MountPath: fmt.Sprintf("/data%d", i), ReadOnly: v.readOnly})
		}
	}
	return p
}

func (e *env) createPod(p *corev1.Pod) {
	e.t.Helper()
	if _, err := e.cs.CoreV1().Pods(e.ns).Create(e.ctx, p, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

// waitFor is Cluster.waitFor failing the test, with the namespace's events.
func (e *env) waitFor(what string, timeout time.Duration, cond func() (bool, error)) {
	e.t.Helper()
	if err := e.Cluster.waitFor(e.ctx, what, timeout, cond); err != nil {
		e.t.Fatalf("%v; events:%s", err, e.events(e.ctx, e.ns))
	}
}

// waitPod waits until the pod is Running (want Running) or has
// Succeeded, and returns it; a failed pod fails the test with its log.
func (e *env) waitPod(name string, want corev1.PodPhase) *corev1.Pod {
	e.t.Helper()
	var p *corev1.Pod
	e.waitFor("pod "+name+" "+string(want), 3*time.Minute, func() (bool, error) {
		var err error
		if p, err = e.cs.CoreV1().Pods(e.ns).Get(e.ctx, name, metav1.GetOptions{}); err != nil {
			return false, nil
		}
		if p.Status.Phase == corev1.PodFailed || (want == corev1.PodRunning && p.Status.Phase == corev1.PodSucceeded) {
			return false, fmt.Errorf("pod %s: %s: %s", name, p.Status.Phase, e.podLogs(e.ctx, e.ns, name))
		}
		return p.Status.Phase == want, nil
	})
	return p
}

// run runs script in a new pod with vols until it succeeds and returns its
// log and the pod's node.
func (e *env) run(name, script string, vols ...vol) (log, node string) {
	e.t.Helper()
	return e.runPod(e.pod(name, script, vols...))
}

func (e *env) runPod(p *corev1.Pod) (log, node string) {
	e.t.Helper()
	e.createPod(p)
	p = e.waitPod(p.Name, corev1.PodSucceeded)
	return e.podLogs(e.ctx, e.ns, p.Name), p.Spec.NodeName
}

// exec runs a shell script in a running pod (kubectl exec).
func (e *env) exec(pod, script string) (string, error) {
	return run(e.ctx, []string{"KUBECONFIG=" + e.Kubeconfig()}, e.o.tool("kubectl"), "exec", "-n", e.ns, pod, "--", "sh", "-c", script)
}

func (e *env) mustExec(pod, script string) string {
	e.t.Helper()
	out, err := e.exec(pod, script)
	if err != nil {
		e.t.Fatalf("exec in %s: %v", pod, err)
	}
	return out
}

func (e *env) deletePod(name string) {
	e.t.Helper()
	zero := int64(0)
	if err := e.cs.CoreV1().Pods(e.ns).Delete(e.ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil && !apierrors.IsNotFound(err) {
		e.t.Fatal(err)
	}
	e.waitFor("pod "+name+" gone", 2*time.Minute, func() (bool, error) {
		_, err := e.cs.CoreV1().Pods(e.ns).Get(e.ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
}

// bound waits until the PVC is Bound and returns its PV.
func (e *env) bound(pvc string) *corev1.PersistentVolume {
	e.t.Helper()
	var pv string
	e.waitFor("PVC "+pvc+" Bound", 3*time.Minute, func() (bool, error) {
		p, err := e.cs.CoreV1().PersistentVolumeClaims(e.ns).Get(e.ctx, pvc, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		pv = p.Spec.VolumeName
		return p.Status.Phase == corev1.ClaimBound, nil
	})
	v, err := e.cs.CoreV1().PersistentVolumes().Get(e.ctx, pv, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

// volume is a provisioned volume: its PV, driver and node.
type volume struct {
	pv, driver, handle, node string
}

func pvVolume(pv *corev1.PersistentVolume) volume {
	v := volume{pv: pv.Name}
	if pv.Spec.CSI != nil {
		v.driver, v.handle = pv.Spec.CSI.Driver, pv.Spec.CSI.VolumeHandle
	}
	if a := pv.Spec.NodeAffinity; a != nil && a.Required != nil {
		for _, term := range a.Required.NodeSelectorTerms {
			for _, r := range term.MatchExpressions {
				if strings.HasPrefix(r.Key, "topology.") && len(r.Values) == 1 {
					v.node = r.Values[0]
				}
			}
		}
	}
	return v
}

// onNode says what the node's LVM or btrfs says about the volume, and
// whether it is there.
func (e *env) onNode(v volume) (string, bool) {
	s := e.backend(e.ctx, &Workload{Driver: v.driver, Node: v.node, VolumeHandle: v.handle, PV: v.pv})
	return s, strings.HasPrefix(s, "LV ") || strings.HasPrefix(s, "btrfs subvolume ")
}

// logicalVolume returns the LogicalVolume object of a volume handle (its
// name), nil when there is none.
func (e *env) logicalVolume(name string) *unstructured.Unstructured {
	e.t.Helper()
	lv, err := e.dyn.Resource(logicalVolumes).Get(e.ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return lv
}

// deletePVC deletes a PVC whose pods are gone and waits until its PV, its
// LogicalVolume object and the LV or subvolume on the node are gone.
func (e *env) deletePVC(pvc string, v volume) {
	e.t.Helper()
	if err := e.cs.CoreV1().PersistentVolumeClaims(e.ns).Delete(e.ctx, pvc, metav1.DeleteOptions{}); err != nil {
		e.t.Fatal(err)
	}
	e.waitVolumeGone(v)
}

func (e *env) waitVolumeGone(v volume) {
	e.t.Helper()
	e.waitFor("PV "+v.pv+", its LogicalVolume and the volume on "+v.node+" gone", 2*time.Minute, func() (bool, error) {
		_, err := e.cs.CoreV1().PersistentVolumes().Get(e.ctx, v.pv, metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			return false, nil
		}
		if e.logicalVolume(v.handle) != nil {
			return false, nil
		}
		_, there := e.onNode(v)
		return !there, nil
	})
}

// logValue is the value of a pod's log line "key=value".
func logValue(log, key string) string {
	for _, line := range strings.Split(log, "\n") {
		if v, ok := strings.CutPrefix(line, key+"="); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
