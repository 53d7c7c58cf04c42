package cluster

import "maps"

// What a running cluster tells its users beyond the client: the processes
// it runs on the host (benchmarks read their CPU time and memory from
// /proc) and the images its pods can use.

// ControlPlane returns the processes the cluster started on the host, in
// start order (etcd, kube-apiserver, kube-controller-manager, ... and one
// init per node, named after the node, and what StartTool started).
func (c *Cluster) ControlPlane() []Proc {
	c.st.mu.Lock()
	defer c.st.mu.Unlock()
	return append([]Proc(nil), c.st.Processes...)
}

// NodeInits returns each node's name with the host PID of its init, the
// first process of the node's PID namespace: every process of the node
// (containerd, kubelet, containers) descends from it.
func (c *Cluster) NodeInits() map[string]int {
	c.st.mu.Lock()
	defer c.st.mu.Unlock()
	return maps.Clone(c.st.Nodes)
}

// ShellImage is the busybox image every node has (imported, never pulled:
// use imagePullPolicy Never).
func (c *Cluster) ShellImage() string { return "docker.io/toposuite/busybox:" + c.images.tag }

// LogDir holds the log file of every process the cluster started.
func (c *Cluster) LogDir() string { return c.o.path("logs") }

// Dir is the lab directory: the cluster's files, sockets and logs.
func (c *Cluster) Dir() string { return c.o.path() }

// KubeletDir is where a node's kubelet root dir (/var/lib/kubelet in the
// node) lies on the host.
func (c *Cluster) KubeletDir(node string) string { return c.o.path(node, "kubelet") }
