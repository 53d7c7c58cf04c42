package cluster

import (
	"fmt"
	"os"
	"path/filepath"
)

// writeNodeFiles writes node i's containerd, CNI and kubelet configuration.
func (c *Cluster) writeNodeFiles(name string, i int, dir, sock string) error {
	// containerd (Debian's 1.6): everything under the node's directory or
	// the node's private /run; the CRI settings TESTBED §6 found necessary.
	containerd := fmt.Sprintf(`version = 2
root = %[1]q
state = "/run/containerd"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = %[2]q

[plugins."io.containerd.internal.v1.opt"]
  path = %[3]q

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[4]q
  # Without CAP_SYS_RESOURCE runc cannot give the pause container its
  # negative OOM score: every pod would fail.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = %[5]q
`, filepath.Join(dir, "containerd"), sock, filepath.Join(dir, "containerd", "opt"), c.images.pause, filepath.Join(dir, "net.d"))

	cni := fmt.Sprintf(`{
  "cniVersion": "1.0.0",
  "name": "toposuite",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": %q}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    }
  ]
}
`, podCIDR(i))

	// The kubelet: cgroupfs under its own cgroup root, cgroup v1 allowed
	// (1.35+ refuses it otherwise), relaxed eviction and no image GC (the
	// images are imported, never pulled), anonymous read access for the
	// API server's logs and exec.
	kubelet := fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: %[1]s
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
cgroupDriver: cgroupfs
cgroupRoot: /toposuite-%[2]s
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://%[3]s
imageServiceEndpoint: unix://%[3]s
authentication:
  anonymous:
    enabled: true
  webhook:
    enabled: false
authorization:
  mode: AlwaysAllow
evictionHard:
  nodefs.available: "1%%"
  nodefs.inodesFree: "1%%"
  imagefs.available: "1%%"
  memory.available: "100Mi"
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
podLogsDir: /var/log/pods
resolvConf: /etc/resolv.conf
clusterDomain: cluster.local
serializeImagePulls: false
maxPods: 110
# A running pod's volumes are looked at again on each pod sync: online
# expansion reaches the filesystem within this, not the default minute.
syncFrequency: 10s
`, nodeIP(i), name, sock)

	files := map[string]string{
		"containerd.toml":             containerd,
		"net.d/10-toposuite.conflist": cni,
		"kubelet.yaml":                kubelet,
	}
	for f, content := range files {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return c.pki.writeKubeconfig(filepath.Join(dir, "kubelet.kubeconfig"), c.server, name)
}
