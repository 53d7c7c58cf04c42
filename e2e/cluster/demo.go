package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Demo is Up, then, on each driver, a PVC and a pod writing to it, with a
// report of what happened; the cluster stays up.
func Demo(ctx context.Context, o Options, uo UpOptions) error {
	c, err := Up(ctx, o, uo)
	if err != nil {
		return err
	}
	if err := c.RunDemo(ctx); err != nil {
		return fmt.Errorf("%w (the cluster is still up: make demo-down removes it)", err)
	}
	return nil
}

// Workload is one PVC and the pod that wrote to it, as seen afterwards.
type Workload struct {
	Driver, StorageClass, Namespace, PVC, Pod string
	// Node is where the scheduler put the pod (and so the volume).
	Node string
	// PV and VolumeHandle name the volume; Backend says what it is on the node.
	PV, VolumeHandle, Backend string
	// Bytes the pod wrote (and fsynced), and its mount line.
	Bytes int64
	Mount string
	// Bound and Done are the times from creation to PVC Bound and pod Succeeded.
	Bound, Done time.Duration
}

// writerScript writes size MiB to /data and reports.
const writerScript = `set -e
dd if=/dev/zero of=/data/demo.bin bs=1M count=%d conv=fsync 2>/dev/null
echo "bytes=$(wc -c < /data/demo.bin)"
echo "mount=$(grep ' /data ' /proc/mounts)"
`

// WriteToNewPVC creates a PVC of storageClass and a pod that writes mib
// MiB to it, waits until the pod succeeded and reports.
func (c *Cluster) WriteToNewPVC(ctx context.Context, namespace, name, storageClass string, mib int) (*Workload, error) {
	w := &Workload{StorageClass: storageClass, Namespace: namespace, PVC: name, Pod: name + "-writer"}
	sc := storageClass
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: &sc,
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: w.Pod, Namespace: namespace},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{
				Name: "writer", Image: c.ShellImage(), ImagePullPolicy: corev1.PullNever,
				Command:      []string{"sh", "-c", fmt.Sprintf(writerScript, mib)},
				VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
			}},
			Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: name}}}},
		},
	}
	t0 := time.Now()
	if _, err := c.cs.CoreV1().PersistentVolumeClaims(namespace).Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	if _, err := c.cs.CoreV1().Pods(namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	err := c.waitFor(ctx, "pod "+namespace+"/"+w.Pod, 3*time.Minute, func() (bool, error) {
		if w.Bound == 0 {
			if p, err := c.cs.CoreV1().PersistentVolumeClaims(namespace).Get(ctx, name, metav1.GetOptions{}); err == nil && p.Status.Phase == corev1.ClaimBound {
				w.Bound = time.Since(t0)
				w.PV = p.Spec.VolumeName
			}
		}
		p, err := c.cs.CoreV1().Pods(namespace).Get(ctx, w.Pod, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		switch p.Status.Phase {
		case corev1.PodSucceeded:
			w.Done = time.Since(t0)
			w.Node = p.Spec.NodeName
			return w.Bound != 0, nil
		case corev1.PodFailed:
			return false, fmt.Errorf("pod failed: %s", c.podLogs(ctx, namespace, w.Pod))
		}
		return false, nil
	})
	if err != nil {
		return w, fmt.Errorf("%w; events: %s", err, c.events(ctx, namespace))
	}
	for _, line := range strings.Split(c.podLogs(ctx, namespace, w.Pod), "\n") {
		if v, ok := strings.CutPrefix(line, "bytes="); ok {
			w.Bytes, _ = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
		if v, ok := strings.CutPrefix(line, "mount="); ok {
			w.Mount = v
		}
	}
	pv, err := c.cs.CoreV1().PersistentVolumes().Get(ctx, w.PV, metav1.GetOptions{})
	if err != nil {
		return w, err
	}
	if pv.Spec.CSI != nil {
		w.Driver, w.VolumeHandle = pv.Spec.CSI.Driver, pv.Spec.CSI.VolumeHandle
	}
	w.Backend = c.backend(ctx, w)
	return w, nil
}

// backend says what the volume is on its node, asking LVM or btrfs there
// (both device classes: devclasses.go).
func (c *Cluster) backend(ctx context.Context, w *Workload) string {
	switch w.Driver {
	case "topolvm.io":
		out, err := c.InNode(ctx, w.Node, "lvm", "lvs", "--reportformat", "json", "-o", "vg_name,lv_name,lv_size,lv_tags", "--units", "b", vgName, smallVG)
		if err != nil {
			return "lvs: " + err.Error()
		}
		var rep struct {
			Report []struct {
				LV []map[string]string `json:"lv"`
			} `json:"report"`
		}
		if err := json.Unmarshal([]byte(out), &rep); err == nil {
			for _, r := range rep.Report {
				for _, lv := range r.LV {
					if lv["lv_name"] == w.VolumeHandle || lv["lv_name"] == w.PV {
						return fmt.Sprintf("LV %s/%s, %s, tags %s", lv["vg_name"], lv["lv_name"], gib(strings.TrimSuffix(lv["lv_size"], "B")), lv["lv_tags"])
					}
				}
			}
		}
		return "no LV named " + w.VolumeHandle + " in " + vgName + " or " + smallVG + " on " + w.Node
	case "topols.io":
		for _, pool := range []string{poolPath, smallPoolPath} {
			out, err := c.InNode(ctx, w.Node, "btrfs", "qgroup", "show", "-re", "--raw", "--sync", pool)
			if err != nil {
				return "btrfs: " + err.Error()
			}
			for _, line := range strings.Split(out, "\n") {
				f := strings.Fields(line)
				if len(f) >= 6 && (f[5] == w.VolumeHandle || f[5] == w.PV) {
					return fmt.Sprintf("btrfs subvolume %s/%s (qgroup %s): %s referenced, quota limit %s", pool, f[5], f[0], mib(f[1]), gib(f[3]))
				}
			}
		}
		return "no subvolume " + w.VolumeHandle + " in " + poolPath + " or " + smallPoolPath + " on " + w.Node
	}
	return "driver " + w.Driver
}

// gib and mib print a byte count given as text.
func gib(bytes string) string {
	n, err := strconv.ParseInt(bytes, 10, 64)
	if err != nil {
		return bytes
	}
	return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
}

func mib(bytes string) string {
	n, err := strconv.ParseInt(bytes, 10, 64)
	if err != nil {
		return bytes
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// InNode runs a command in a node's mount, network and PID namespaces
// (the node's own /etc/lvm, pools and mounts).
func (c *Cluster) InNode(ctx context.Context, node, name string, args ...string) (string, error) {
	pid, ok := c.st.Nodes[node]
	if !ok {
		return "", fmt.Errorf("no node %s", node)
	}
	return run(ctx, []string{"LVM_SUPPRESS_FD_WARNINGS=1"}, "nsenter", append([]string{"-t", strconv.Itoa(pid), "-m", "-n", "-p", "--", name}, args...)...)
}

func (c *Cluster) podLogs(ctx context.Context, namespace, pod string) string {
	b, err := c.cs.CoreV1().Pods(namespace).GetLogs(pod, &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil {
		return "(logs: " + err.Error() + ")"
	}
	return string(b)
}

func (c *Cluster) events(ctx context.Context, namespace string) string {
	evs, err := c.cs.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, e := range evs.Items {
		fmt.Fprintf(&b, "\n  %s %s/%s: %s: %s", e.Type, e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, e.Message)
	}
	return b.String()
}

// RunDemo creates namespace demo, a PVC on each driver with a pod writing
// 64 MiB to it (both at once), and prints what happened.
func (c *Cluster) RunDemo(ctx context.Context) error {
	t0 := time.Now()
	const ns = "demo"
	if _, err := c.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	c.logf("demo: PVC %s/lvm-demo (StorageClass topolvm-provisioner) and %s/btrfs-demo (topols-provisioner), 1Gi, WaitForFirstConsumer; a pod writes 64 MiB to each", ns, ns)
	type result struct {
		w   *Workload
		err error
	}
	specs := [][2]string{{"lvm-demo", "topolvm-provisioner"}, {"btrfs-demo", "topols-provisioner"}}
	results := make([]chan result, len(specs))
	for i, s := range specs {
		results[i] = make(chan result, 1)
		go func(ch chan result, name, sc string) {
			w, err := c.WriteToNewPVC(ctx, ns, name, sc, 64)
			ch <- result{w, err}
		}(results[i], s[0], s[1])
	}
	var errs []error
	for _, ch := range results {
		r := <-ch
		if r.err != nil {
			errs = append(errs, r.err)
			continue
		}
		w := r.w
		fmt.Fprintf(c.o.Out, `
  PVC %s/%s (%s, StorageClass %s)
    node      %s (chosen by kube-scheduler: CSIStorageCapacity and the topolvm-scheduler extender)
    PV        %s, volume handle %s
    on node   %s
    mounted   %s
    written   %d bytes (%s, fsync) by pod %s/%s
    time      PVC Bound %.2f s and pod Succeeded %.2f s after creation
`, w.Namespace, w.PVC, w.Driver, w.StorageClass, w.Node, w.PV, w.VolumeHandle, w.Backend, w.Mount, w.Bytes,
			mib(strconv.FormatInt(w.Bytes, 10)), w.Namespace, w.Pod, w.Bound.Seconds(), w.Done.Seconds())
	}
	if len(errs) > 0 {
		return fmt.Errorf("demo: %v", errs)
	}
	fmt.Fprintf(c.o.Out, `
[%6.1fs] demo done in %.1f s. The cluster stays up:
    export KUBECONFIG=%s
    kubectl get nodes,pods -A -o wide;  kubectl -n demo get pvc,pods
    %s/logs/ has every component's log; make demo-down tears it all down.
`, time.Since(c.t0).Seconds(), time.Since(t0).Seconds(), c.o.Kubeconfig(), c.o.Dir)
	return nil
}
