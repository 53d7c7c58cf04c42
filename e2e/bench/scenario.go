package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/toposuite/toposuite/e2e/cluster"
)

// Driver is one of the suite's drivers as the cluster installs it.
type Driver struct {
	// Name is the CSI driver name; Short names it in figures.
	Name, Short string
	// Namespace is the release's namespace ("" for the floor, which has
	// no chart); StorageClass its WaitForFirstConsumer class; FSType that
	// class's filesystem.
	Namespace, StorageClass, FSType string
	// VolumesOnNode lists the volumes of the benchmark on a node
	// (pvc-...), asking LVM or btrfs there.
	VolumesOnNode func(ctx context.Context, c *cluster.Cluster, node string) ([]string, error)
	// NoLogicalVolumes: the driver makes no LogicalVolume (the floor).
	NoLogicalVolumes bool
}

// gone is when a PVC's volume was wholly gone: its PV and, for the suite's
// drivers, its LogicalVolume; zero while not.
func (d Driver) gone(m Marks) time.Time {
	if d.NoLogicalVolumes {
		return m.PVGone
	}
	return later(m.PVGone, m.LVGone)
}

// ImmediateClass is the StorageClass the benchmark makes for Immediate
// binding, otherwise like the chart's.
func (d Driver) ImmediateClass() string { return "bench-" + d.Short + "-immediate" }

// Drivers are TopoLVM and TopoLS as e2e/cluster installs them.
var Drivers = []Driver{
	{Name: "topolvm.io", Short: "lvm", Namespace: "topolvm-system", StorageClass: "topolvm-provisioner", FSType: "ext4",
		VolumesOnNode: func(ctx context.Context, c *cluster.Cluster, node string) ([]string, error) {
			out, err := c.InNode(ctx, node, "lvm", "lvs", "--noheadings", "-o", "lv_name", "toposuite")
			return volumeNames(out), err
		}},
	{Name: "topols.io", Short: "btrfs", Namespace: "topols-system", StorageClass: "topols-provisioner", FSType: "btrfs",
		VolumesOnNode: func(ctx context.Context, c *cluster.Cluster, node string) ([]string, error) {
			out, err := c.InNode(ctx, node, "btrfs", "subvolume", "list", "/var/lib/topols/default")
			return volumeNames(out), err
		}},
}

// volumeNames picks the pvc-... words of a listing.
func volumeNames(out string) []string {
	var names []string
	for _, f := range strings.Fields(out) {
		if strings.HasPrefix(f, "pvc-") {
			names = append(names, f)
		}
	}
	return names
}

// Runner runs the scenarios on a cluster.
type Runner struct {
	Cluster *cluster.Cluster
	// CS is a client with rate limits high enough not to be the bottleneck.
	CS       kubernetes.Interface
	Timeline *Timeline
	// Timeout bounds each wait.
	Timeout time.Duration
	Logf    func(format string, args ...any)
}

// Result is one scenario's figures.
type Result struct {
	Scenario string
	// Marks of each PVC.
	Marks []Marks
	// AllBound is from the first create request until every PVC was Bound;
	// Bound the per-PVC latencies from its create request.
	AllBound time.Duration
	Bound    Summary
	// PodsRunning is from the first create request until every pod ran
	// (WaitForFirstConsumer only).
	PodsRunning time.Duration
	// Deletion is from the first delete request until every PV and
	// LogicalVolume was gone and no node had a volume left; Deleted the
	// per-PVC latencies until its PV was gone.
	Deletion time.Duration
	Deleted  Summary
	// NodeCreate is the node plugin's time per volume (daemon call and
	// capacity publication), from its "volume created" log lines.
	NodeCreate Summary
	Usage      []Usage
	// Requests is what kube-apiserver answered during the scenario.
	Requests APIRequests
	// LoadBefore and LoadAfter are /proc/loadavg around the scenario;
	// Quiet says how long it waited for an idle machine first (WaitQuiet).
	LoadBefore, LoadAfter, Quiet string
}

// EnsureClasses makes the Immediate StorageClass of d and, for a driver
// without a chart (the floor), its WaitForFirstConsumer class.
func (r *Runner) EnsureClasses(ctx context.Context, d Driver) error {
	classes := map[string]storagev1.VolumeBindingMode{d.ImmediateClass(): storagev1.VolumeBindingImmediate}
	if d.Namespace == "" {
		classes[d.StorageClass] = storagev1.VolumeBindingWaitForFirstConsumer
	}
	del, expand := corev1.PersistentVolumeReclaimDelete, true
	params := map[string]string{}
	if d.FSType != "" {
		params["csi.storage.k8s.io/fstype"] = d.FSType
	}
	for name, mode := range classes {
		_, err := r.CS.StorageV1().StorageClasses().Create(ctx, &storagev1.StorageClass{
			ObjectMeta:  metav1.ObjectMeta{Name: name},
			Provisioner: d.Name, Parameters: params,
			ReclaimPolicy: &del, VolumeBindingMode: &mode, AllowVolumeExpansion: &expand,
		}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	return nil
}

func pvc(name, class string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: Namespace},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: &class,
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
}

// pod mounts claim and sleeps; it goes at once when deleted.
func (r *Runner) pod(name, claim string) *corev1.Pod {
	zero := int64(0)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: Namespace},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: &zero,
			Containers: []corev1.Container{{
				Name: "sleep", Image: r.Cluster.ShellImage(), ImagePullPolicy: corev1.PullNever,
				Command:      []string{"sleep", "3600"},
				VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
			}},
			Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}},
		},
	}
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

// Single creates n PVCs of d with Immediate binding one at a time: each is
// Bound, then deleted and gone (PV and LogicalVolume) before the next.
func (r *Runner) Single(ctx context.Context, d Driver, n int) (Result, error) {
	quiet := WaitQuiet(ctx)
	res := Result{Scenario: fmt.Sprintf("%d single PVCs, Immediate", n), Quiet: quiet, LoadBefore: loadavg()}
	var bound, deleted []time.Duration
	for i := range n {
		uids, err := r.create(ctx, d.ImmediateClass(), fmt.Sprintf("single-%02d", i), 1, false)
		if err != nil {
			return res, err
		}
		if err := r.wait(ctx, "Bound", uids, func(m Marks) time.Time { return m.Bound }); err != nil {
			return res, err
		}
		if err := r.delete(ctx, uids, nil); err != nil {
			return res, err
		}
		if err := r.wait(ctx, "PV and LogicalVolume gone", uids, d.gone); err != nil {
			return res, err
		}
		m := r.Timeline.Get(uids)[0]
		res.Marks = append(res.Marks, m)
		bound = append(bound, m.Bound.Sub(m.Created))
		deleted = append(deleted, m.PVGone.Sub(m.Deleted))
	}
	res.Bound, res.Deleted = Summarize(bound), Summarize(deleted)
	res.NodeCreate = r.nodeCreateTimes(ctx, d, res.Marks[0].Created)
	res.LoadAfter = loadavg()
	return res, nil
}

// later is the later of two moments, zero while either is unset.
func later(a, b time.Time) time.Time {
	if a.IsZero() || b.IsZero() {
		return time.Time{}
	}
	if a.After(b) {
		return a
	}
	return b
}

// Burst creates n PVCs of d at once (with a pod each and the chart's
// WaitForFirstConsumer class when wffc, else Immediate), waits until all
// are Bound (and the pods run), then deletes everything at once and waits
// until every PV, LogicalVolume and volume on the nodes is gone.
func (r *Runner) Burst(ctx context.Context, d Driver, n int, wffc bool, meter func() *Meter) (Result, error) {
	class, what := d.ImmediateClass(), "Immediate"
	if wffc {
		class, what = d.StorageClass, "WaitForFirstConsumer, a pod each"
	}
	quiet := WaitQuiet(ctx)
	res := Result{Scenario: fmt.Sprintf("%d PVCs at once, %s", n, what), Quiet: quiet, LoadBefore: loadavg()}
	m := meter()
	reqs, err := ReadAPIRequests(ctx, r.CS)
	if err != nil {
		m.Stop()
		return res, err
	}
	t0 := time.Now()
	uids, err := r.create(ctx, class, "burst", n, wffc)
	if err != nil {
		m.Stop()
		return res, err
	}
	if err := r.wait(ctx, "Bound", uids, func(m Marks) time.Time { return m.Bound }); err != nil {
		m.Stop()
		return res, err
	}
	res.AllBound = time.Since(t0)
	if wffc {
		if err := r.waitPodsRunning(ctx, n); err != nil {
			m.Stop()
			return res, err
		}
		res.PodsRunning = time.Since(t0)
	}
	t1 := time.Now()
	if err := r.delete(ctx, uids, func() error { return r.deletePods(ctx) }); err != nil {
		m.Stop()
		return res, err
	}
	if err := r.wait(ctx, "PVs and LogicalVolumes gone", uids, d.gone); err != nil {
		m.Stop()
		return res, err
	}
	if err := r.waitNodesClean(ctx, d); err != nil {
		m.Stop()
		return res, err
	}
	res.Deletion = time.Since(t1)
	res.Usage = m.Stop()
	now, err := ReadAPIRequests(ctx, r.CS)
	if err != nil {
		return res, err
	}
	res.Requests = now.Since(reqs)
	res.LoadAfter = loadavg()
	res.Marks = r.Timeline.Get(uids)
	var bound, deleted []time.Duration
	for _, mk := range res.Marks {
		bound = append(bound, mk.Bound.Sub(mk.Created))
		deleted = append(deleted, mk.PVGone.Sub(mk.Deleted))
	}
	res.Bound, res.Deleted = Summarize(bound), Summarize(deleted)
	res.NodeCreate = r.nodeCreateTimes(ctx, d, t0)
	if wffc {
		if err := r.waitNoPods(ctx); err != nil {
			return res, err
		}
	}
	return res, nil
}

// create makes n PVCs named prefix-NNN (and pods) concurrently and stamps
// each one's create request in the timeline; it returns their UIDs.
func (r *Runner) create(ctx context.Context, class, prefix string, n int, withPods bool) ([]string, error) {
	uids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("%s-%03d", prefix, i)
			t := time.Now()
			p, err := r.CS.CoreV1().PersistentVolumeClaims(Namespace).Create(ctx, pvc(name, class), metav1.CreateOptions{})
			if err != nil {
				errs[i] = fmt.Errorf("create PVC %s: %w", name, err)
				return
			}
			uids[i] = string(p.UID)
			r.Timeline.SetCreated(uids[i], t, time.Now())
			if withPods {
				if _, err := r.CS.CoreV1().Pods(Namespace).Create(ctx, r.pod(name, name), metav1.CreateOptions{}); err != nil {
					errs[i] = fmt.Errorf("create pod %s: %w", name, err)
				}
			}
		}()
	}
	wg.Wait()
	return uids, errors.Join(errs...)
}

// delete deletes the PVCs of uids concurrently (and runs also, e.g.
// deleting the pods, at the same moment), stamping each request.
func (r *Runner) delete(ctx context.Context, uids []string, also func() error) error {
	marks := r.Timeline.Get(uids)
	pvcs, err := r.CS.CoreV1().PersistentVolumeClaims(Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, p := range pvcs.Items {
		names[string(p.UID)] = p.Name
	}
	errs := make([]error, len(uids)+1)
	var wg sync.WaitGroup
	if also != nil {
		wg.Add(1)
		go func() { defer wg.Done(); errs[len(uids)] = also() }()
	}
	for i, uid := range uids {
		if !marks[i].Deleted.IsZero() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.Timeline.SetDeleted(uid, time.Now())
			err := r.CS.CoreV1().PersistentVolumeClaims(Namespace).Delete(ctx, names[uid], metav1.DeleteOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				errs[i] = fmt.Errorf("delete PVC %s: %w", names[uid], err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (r *Runner) deletePods(ctx context.Context) error {
	zero := int64(0)
	return r.CS.CoreV1().Pods(Namespace).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{})
}

// wait waits until f is set in the marks of every uid, saying how many are
// missing when it times out.
func (r *Runner) wait(ctx context.Context, what string, uids []string, f func(m Marks) time.Time) error {
	wctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	if err := r.Timeline.Wait(wctx, uids, All(f)); err != nil {
		missing := 0
		for _, m := range r.Timeline.Get(uids) {
			if f(m).IsZero() {
				missing++
			}
		}
		return fmt.Errorf("%d of %d PVCs not %s after %v: %w", missing, len(uids), what, r.Timeout, err)
	}
	return nil
}

// poll runs cond every 50 ms until it holds or the timeout.
func (r *Runner) poll(ctx context.Context, what string, cond func() (bool, string)) error {
	wctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	for {
		ok, state := cond()
		if ok {
			return nil
		}
		select {
		case <-wctx.Done():
			return fmt.Errorf("%s: not after %v: %s", what, r.Timeout, state)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (r *Runner) waitPodsRunning(ctx context.Context, n int) error {
	return r.waitPods(ctx, "running", func(_, running int) bool { return running == n })
}

func (r *Runner) waitNoPods(ctx context.Context) error {
	return r.waitPods(ctx, "gone", func(all, _ int) bool { return all == 0 })
}

// waitPods waits until cond holds over the benchmark's pods (the
// timeline's watch), saying how many there are when it times out.
func (r *Runner) waitPods(ctx context.Context, what string, cond func(all, running int) bool) error {
	wctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	all, running, err := r.Timeline.WaitPods(wctx, cond)
	if err != nil {
		return fmt.Errorf("pods %s: not after %v: %d pods, %d running: %w", what, r.Timeout, all, running, err)
	}
	return nil
}

// waitNodesClean waits until no node has a volume of the benchmark left.
func (r *Runner) waitNodesClean(ctx context.Context, d Driver) error {
	return r.poll(ctx, d.Short+" volumes removed on the nodes", func() (bool, string) {
		var left []string
		for node := range r.Cluster.NodeInits() {
			names, err := d.VolumesOnNode(ctx, r.Cluster, node)
			if err != nil {
				return false, fmt.Sprintf("%s: %v", node, err)
			}
			for _, v := range names {
				left = append(left, node+":"+v)
			}
		}
		return len(left) == 0, fmt.Sprintf("left: %v", left)
	})
}

// nodeCreateTimes reads the node plugins' "volume created" log lines
// since t and summarizes their durationMs.
func (r *Runner) nodeCreateTimes(ctx context.Context, d Driver, since time.Time) Summary {
	if d.Namespace == "" {
		return Summary{}
	}
	pods, err := r.CS.CoreV1().Pods(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/component=node"})
	if err != nil {
		return Summary{}
	}
	var ds []time.Duration
	st := metav1.NewTime(since.Add(-time.Second))
	for _, p := range pods.Items {
		b, err := r.CS.CoreV1().Pods(d.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{Container: "node", SinceTime: &st}).DoRaw(ctx)
		if err != nil {
			continue
		}
		ds = append(ds, volumeCreatedDurations(string(b), since)...)
	}
	return Summarize(ds)
}

// volumeCreatedDurations picks the durationMs of the JSON log lines
// "volume created" logged at or after since.
func volumeCreatedDurations(logs string, since time.Time) []time.Duration {
	var ds []time.Duration
	for _, line := range strings.Split(logs, "\n") {
		if !strings.Contains(line, `"volume created"`) {
			continue
		}
		var l struct {
			Time       time.Time `json:"time"`
			Msg        string    `json:"msg"`
			DurationMs float64   `json:"durationMs"`
		}
		if json.Unmarshal([]byte(line), &l) != nil || l.Msg != "volume created" || l.Time.Before(since) {
			continue
		}
		ds = append(ds, time.Duration(l.DurationMs*float64(time.Millisecond)))
	}
	return ds
}
