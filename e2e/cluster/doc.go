// Package cluster is TopoSuite's local cluster: a real Kubernetes cluster on
// one machine, with no docker and no downloads (TESTBED.md §5 and §6).
//
// The control plane (etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler, snapshot-controller) runs as plain processes of the host.
// Each node is a set of fresh Linux namespaces (PID, mount, network, UTS,
// IPC) whose PID 1 is this package's node init (NodeInit): it gives the
// node a private /run, /var/lib and /var/log, its own /etc/lvm (an LVM
// configuration that sees only the node's own loop devices), its own
// network (a veth on the host-only bridge, a CNI bridge for its pods), and
// runs the node's containerd and kubelet. Everything a node made inside its
// namespaces goes away with its PID 1; what lives outside (loop devices,
// the host bridge, cgroups, the kernel sysctls the kubelet changes) is
// listed in the lab directory's state file, which Down reads, so a killed
// or failed run is torn down as completely as a clean one.
//
// The suite is then installed with its own Helm charts and the images of
// `make images`, as a user would. See e2e/README.md and docs/demo.md.
package cluster
