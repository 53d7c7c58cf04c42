//go:build e2e

package cluster

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The ways the chaos and failover tests kill the cluster's parts, all with
// SIGKILL: nothing gets to save state or say goodbye. Containers are killed
// through their node's containerd (the kubelet restarts them, as after a
// crash); host processes (kube-controller-manager) and a node's kubelet and
// containerd are killed by PID.

// controllerNamespace is the namespace of a driver's release (helm.go).
func controllerNamespace(d driverCase) string { return d.name + "-system" }

// killContainers kills every running container of the pod whose name has
// the prefix only ("" for all), with SIGKILL to each container's init
// process, and returns how many it killed.
func (e *env) killContainers(p *corev1.Pod, only string) (int, error) {
	n := 0
	for _, cs := range p.Status.ContainerStatuses {
		if !strings.HasPrefix(cs.Name, only) || cs.State.Running == nil {
			continue
		}
		id := strings.TrimPrefix(cs.ContainerID, "containerd://")
		out, err := run(e.ctx, nil, "ctr", "--address", e.o.path(p.Spec.NodeName, "containerd.sock"),
			"-n", "k8s.io", "tasks", "kill", "-s", "SIGKILL", id)
		switch {
		case err != nil && strings.Contains(err.Error()+out, "not found"):
			// Exited since the pod's status was read (a sidecar that lost
			// its lease exits, say): nothing left to kill.
		case err != nil:
			return n, fmt.Errorf("kill container %s of %s/%s: %v: %s", cs.Name, p.Namespace, p.Name, err, out)
		default:
			n++
		}
	}
	return n, nil
}

// suitePods lists the pods of a namespace with a name prefix.
func (e *env) suitePods(ns, prefix string) ([]corev1.Pod, error) {
	pods, err := e.cs.CoreV1().Pods(ns).List(e.ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []corev1.Pod
	for _, p := range pods.Items {
		if strings.HasPrefix(p.Name, prefix) && p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out, nil
}

// provisionerLeader returns the running controller pod holding
// csi-provisioner's lease for the driver: the replica answering
// CreateVolume. After a rollout or a kill the lease can still name a pod
// that is gone, until it expires and a live replica takes it: it waits.
func (e *env) provisionerLeader(d driverCase) (*corev1.Pod, error) {
	var p *corev1.Pod
	err := e.Cluster.waitFor(e.ctx, d.name+"'s provisioner lease held by a running pod", 2*time.Minute, func() (bool, error) {
		lease, err := e.cs.CoordinationV1().Leases(controllerNamespace(d)).Get(e.ctx, provisionerLease(d), metav1.GetOptions{})
		if err != nil || lease.Spec.HolderIdentity == nil {
			return false, nil
		}
		p, err = e.cs.CoreV1().Pods(controllerNamespace(d)).Get(e.ctx, *lease.Spec.HolderIdentity, metav1.GetOptions{})
		return err == nil && p.DeletionTimestamp == nil && podReady(p), nil
	})
	return p, err
}

// provisionerLease is the name csi-provisioner gives its lease: the driver
// name with dots as dashes.
func provisionerLease(d driverCase) string { return strings.ReplaceAll(d.driver, ".", "-") }

// killLeader kills every container of the pod holding the driver's
// provisioner lease and returns its name.
func (e *env) killLeader(d driverCase) (string, error) {
	p, err := e.provisionerLeader(d)
	if err != nil {
		return "", err
	}
	if _, err := e.killContainers(p, ""); err != nil {
		return "", err
	}
	return p.Name, nil
}

// killNodePlugin kills the node plugin container (which embeds lvmd or
// btrfsd) of the driver on a node.
func (e *env) killNodePlugin(d driverCase, node string) error {
	return e.killOnNode(controllerNamespace(d), d.name+"-node", "node", node)
}

// killLVMD kills lvmd's container on a node, where the chart runs it as
// its own DaemonSet (lvmd.mode daemonset).
func (e *env) killLVMD(node string) error {
	return e.killOnNode(controllerNamespace(drivers[0]), "topolvm-lvmd", "lvmd", node)
}

// killOnNode kills the container of a DaemonSet's pod on a node.
func (e *env) killOnNode(ns, podPrefix, container, node string) error {
	pods, err := e.suitePods(ns, podPrefix)
	if err != nil {
		return err
	}
	for i := range pods {
		if pods[i].Spec.NodeName == node {
			_, err := e.killContainers(&pods[i], container)
			return err
		}
	}
	return fmt.Errorf("no %s pod on %s", podPrefix, node)
}

// killExtender kills the scheduler extender's containers.
func (e *env) killExtender() error {
	pods, err := e.suitePods(schedulerNamespace, "")
	if err != nil {
		return err
	}
	for i := range pods {
		if _, err := e.killContainers(&pods[i], ""); err != nil {
			return err
		}
	}
	return nil
}

// procTree returns every process of the host by parent, and each one's
// command name.
func procTree() (children map[int][]int, comm map[int]string, err error) {
	children, comm = map[int][]int{}, map[int]string{}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, nil, err
	}
	for _, en := range entries {
		pid, err := strconv.Atoi(en.Name())
		if err != nil {
			continue
		}
		if ppid := parentPID(pid); ppid > 0 {
			children[ppid] = append(children[ppid], pid)
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
			comm[pid] = strings.TrimSpace(string(b))
		}
	}
	return children, comm, nil
}

// descendants are the processes below root in the tree, with their names.
func descendants(children map[int][]int, comm map[int]string, root int) map[int]string {
	out := map[int]string{}
	for queue := children[root]; len(queue) > 0; queue = queue[1:] {
		pid := queue[0]
		out[pid] = comm[pid]
		queue = append(queue, children[pid]...)
	}
	return out
}

// nodeProcs returns the host PIDs of every process of a node but its init
// (the init's descendants: kubelet, containerd, shims, containers), with
// each one's command name.
func (e *env) nodeProcs(node string) (map[int]string, error) {
	init, ok := e.NodeInits()[node]
	if !ok {
		return nil, fmt.Errorf("no node %s", node)
	}
	children, comm, err := procTree()
	if err != nil {
		return nil, err
	}
	return descendants(children, comm, init), nil
}

// podProcs returns the host PIDs of every process of the pod's running
// containers: each container's init, which containerd names by its PID
// in the node's PID namespace, and what it started.
func (e *env) podProcs(p *corev1.Pod) ([]int, error) {
	out, err := run(e.ctx, nil, "ctr", "--address", e.o.path(p.Spec.NodeName, "containerd.sock"), "-n", "k8s.io", "tasks", "ls")
	if err != nil {
		return nil, fmt.Errorf("ctr tasks ls on %s: %w", p.Spec.NodeName, err)
	}
	inNode := map[string]string{} // container ID -> PID in the node
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 2 {
			inNode[f[0]] = f[1]
		}
	}
	nodePIDs, err := e.nodeProcs(p.Spec.NodeName)
	if err != nil {
		return nil, err
	}
	host := map[string]int{} // PID in the node -> host PID
	for pid := range nodePIDs {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(strings.TrimPrefix(line, "NSpid:")); strings.HasPrefix(line, "NSpid:") && len(f) >= 2 {
				host[f[1]] = pid
			}
		}
	}
	children, comm, err := procTree()
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, cs := range p.Status.ContainerStatuses {
		root, ok := host[inNode[strings.TrimPrefix(cs.ContainerID, "containerd://")]]
		if cs.State.Running == nil || !ok {
			continue
		}
		pids = append(pids, root)
		for pid := range descendants(children, comm, root) {
			pids = append(pids, pid)
		}
	}
	if len(pids) == 0 {
		return nil, fmt.Errorf("no running container of %s/%s found on %s", p.Namespace, p.Name, p.Spec.NodeName)
	}
	return pids, nil
}

// killInNode kills a node's processes with the command name comm and
// returns how many.
func (e *env) killInNode(node, comm string) (int, error) {
	procs, err := e.nodeProcs(node)
	if err != nil {
		return 0, err
	}
	n := 0
	for pid, c := range procs {
		if c == comm && syscall.Kill(pid, syscall.SIGKILL) == nil {
			n++
		}
	}
	return n, nil
}

// stopNode takes a whole node away and brings it back: every process of
// the node (kubelet, containerd, the node plugins, the pods) is frozen
// with SIGSTOP for d, its kubelet and containerd are killed while frozen,
// and the rest thawed; the node's init starts a new containerd and
// kubelet, which find the containers still there. The node's mounts,
// loop devices and volumes survive, as on a machine whose kubelet host
// hung and was restarted.
func (e *env) stopNode(node string, d time.Duration) error {
	procs, err := e.nodeProcs(node)
	if err != nil {
		return err
	}
	for pid := range procs {
		_ = syscall.Kill(pid, syscall.SIGSTOP)
	}
	time.Sleep(d)
	for pid, c := range procs {
		if c == "kubelet" || c == "containerd" {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	for pid := range procs {
		_ = syscall.Kill(pid, syscall.SIGCONT)
	}
	return nil
}

// killControllerManager kills kube-controller-manager (a host process)
// and, after down, starts it again with the same command line, as a
// supervisor would.
func (e *env) killControllerManager(down time.Duration) error {
	var kcm *Proc
	for _, p := range e.ControlPlane() {
		if p.Name == "kube-controller-manager" && p.alive() {
			kcm = &p
		}
	}
	if kcm == nil {
		return fmt.Errorf("kube-controller-manager is not running")
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", kcm.PID))
	if err != nil {
		return err
	}
	args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")[1:]
	_ = syscall.Kill(kcm.PID, syscall.SIGKILL)
	if !kcm.waitGone(10 * time.Second) {
		return fmt.Errorf("kube-controller-manager (pid %d) survives SIGKILL", kcm.PID)
	}
	time.Sleep(down)
	_, err = e.StartTool("kube-controller-manager", "kube-controller-manager", args...)
	return err
}
