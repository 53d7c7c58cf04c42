package cluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"
)

// freePort returns a TCP port free on ip right now.
func freePort(ip string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// StartTool starts one of the Kubernetes tools the cluster runs with (its
// tools directory) as a host process, output to LogDir()/name.log; Down
// stops it with the control plane. The benchmark runs a csi-provisioner
// of its own this way.
func (c *Cluster) StartTool(name, tool string, args ...string) (Proc, error) {
	p, err := startProcess(spawn{name: name, path: c.o.tool(tool), args: args, log: c.o.path("logs", name+".log")})
	if err != nil {
		return Proc{}, err
	}
	return p, c.st.update(func(s *State) { s.Processes = append(s.Processes, p) })
}

func (c *Cluster) startControl(name string, args ...string) error {
	_, err := c.StartTool(name, name, args...)
	return err
}

// startEtcdAndAPIServer starts etcd and kube-apiserver and waits for /readyz.
func (c *Cluster) startEtcdAndAPIServer(ctx context.Context) error {
	clientPort, err := freePort("127.0.0.1")
	if err != nil {
		return err
	}
	peerPort, err := freePort("127.0.0.1")
	if err != nil {
		return err
	}
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(clientPort)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(peerPort)
	// Test data only: no fsync (TESTBED §5).
	if err := c.startControl("etcd", "--name", "toposuite", "--data-dir", c.o.path("etcd"), "--unsafe-no-fsync",
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "toposuite="+peerURL, "--log-level", "warn"); err != nil {
		return err
	}
	port, err := freePort(hostIP)
	if err != nil {
		return err
	}
	pki := c.o.path("pki")
	if err := c.startControl("kube-apiserver",
		"--etcd-servers", etcdURL,
		"--bind-address", hostIP, "--advertise-address", hostIP, "--secure-port", strconv.Itoa(port),
		"--cert-dir", pki,
		"--tls-cert-file", filepath.Join(pki, "apiserver.crt"), "--tls-private-key-file", filepath.Join(pki, "apiserver.key"),
		"--client-ca-file", filepath.Join(pki, "ca.crt"),
		"--token-auth-file", filepath.Join(pki, "tokens.csv"),
		"--authorization-mode", "Node,RBAC", "--enable-admission-plugins", "NodeRestriction",
		"--service-account-issuer", "https://kubernetes.default.svc",
		"--service-account-key-file", filepath.Join(pki, "sa.pub"),
		"--service-account-signing-key-file", filepath.Join(pki, "sa.key"),
		"--service-cluster-ip-range", serviceCIDR,
		"--allow-privileged=true",
		"--kubelet-preferred-address-types", "InternalIP,Hostname",
		// Webhooks and aggregated APIs are called at their endpoints (pod
		// IPs, routed to each node) rather than through a service IP.
		"--enable-aggregator-routing=true",
		// Where the API server's CPU goes under a burst is the question the
		// benchmark raises: an admin can read a profile with
		// kubectl get --raw '/debug/pprof/profile?seconds=10'.
		"--profiling=true",
	); err != nil {
		return err
	}
	server := fmt.Sprintf("https://%s:%d", hostIP, port)
	c.server = server
	if err := c.st.update(func(s *State) { s.APIServer = server }); err != nil {
		return err
	}
	for _, id := range []string{"admin", "kube-controller-manager", "kube-scheduler", "snapshot-controller"} {
		file := c.o.path("kubeconfig")
		if id != "admin" {
			file = c.o.path("pki", id+".kubeconfig")
		}
		if err := c.pki.writeKubeconfig(file, server, id); err != nil {
			return err
		}
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", c.o.Kubeconfig())
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = 100, 200
	c.cs, err = kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	return c.waitFor(ctx, "kube-apiserver /readyz", 60*time.Second, func() (bool, error) {
		_, err := c.cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err == nil, nil
	})
}

// startControllers starts kube-controller-manager, kube-scheduler and
// snapshot-controller (after the VolumeSnapshot CRDs).
func (c *Cluster) startControllers(ctx context.Context, raiseKCMQPS bool) error {
	pki := c.o.path("pki")
	kcm := []string{
		"--kubeconfig", filepath.Join(pki, "kube-controller-manager.kubeconfig"),
		"--bind-address", "127.0.0.1", "--secure-port", "0",
		"--leader-elect=false",
		"--controllers", "*,-node-ipam-controller,-node-route-controller,-service-lb-controller,-cloud-node-lifecycle-controller",
		"--use-service-account-credentials",
		"--service-account-private-key-file", filepath.Join(pki, "sa.key"),
		"--root-ca-file", filepath.Join(pki, "ca.crt"),
	}
	// Raised to 100 QPS / 200 burst (the default is 20/30), as the
	// benchmarks of issue #5 compare at; the cluster says so when it starts.
	if raiseKCMQPS {
		kcm = append(kcm, "--kube-api-qps", "100", "--kube-api-burst", "200")
	}
	if err := c.startControl("kube-controller-manager", kcm...); err != nil {
		return err
	}
	schedConfig, err := c.writeSchedulerConfig()
	if err != nil {
		return err
	}
	if err := c.startControl("kube-scheduler", "--config", schedConfig,
		"--bind-address", "127.0.0.1", "--secure-port", "0",
	); err != nil {
		return err
	}
	if err := c.startServiceProxy("extender-proxy", proxyConfig{
		Kubeconfig: c.o.Kubeconfig(), Namespace: c.o.ExtenderService.Namespace, Service: c.o.ExtenderService.Name, Port: extenderPort,
		Listen: net.JoinHostPort(hostIP, strconv.Itoa(extenderPort)),
	}); err != nil {
		return err
	}
	crds := filepath.Join(filepath.Dir(c.o.ToolsBin), "crds", "snapshot")
	if _, err := run(ctx, nil, c.o.tool("kubectl"), "--kubeconfig", c.o.Kubeconfig(), "apply", "--server-side", "-f", crds); err != nil {
		return fmt.Errorf("VolumeSnapshot CRDs: %w", err)
	}
	return c.startControl("snapshot-controller",
		"--kubeconfig", filepath.Join(pki, "snapshot-controller.kubeconfig"),
		"--leader-election=false",
		"--feature-gates=CSIVolumeGroupSnapshot=false",
	)
}

// The scheduler extender the suite installs: the topolvm-scheduler chart's
// release, its namespace (Options.ExtenderService by default) and port (the
// chart's listenPort).
const (
	schedulerRelease   = "topolvm-scheduler"
	schedulerNamespace = "topolvm-scheduler"
	extenderPort       = 9251
)

// ExtenderURL is where kube-scheduler calls the scheduler extender: the
// service proxy on the host-only bridge. A test that installs the extender
// itself can wait there until kube-scheduler's path to it works.
func (c *Cluster) ExtenderURL() string {
	return fmt.Sprintf("http://%s", net.JoinHostPort(hostIP, strconv.Itoa(extenderPort)))
}

// writeSchedulerConfig writes kube-scheduler's configuration: the sample
// of deploy/scheduler (the extender for both drivers, with its managed
// resources), with this cluster's kubeconfig, no leader election, and the
// extender reached through the service proxy on the bridge (no kube-proxy
// here, so no ClusterIP).
func (c *Cluster) writeSchedulerConfig() (string, error) {
	b, err := os.ReadFile(filepath.Join(c.o.Repo, "deploy", "scheduler", "scheduler-config.yaml"))
	if err != nil {
		return "", err
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		return "", err
	}
	cfg["clientConnection"] = map[string]any{"kubeconfig": c.o.path("pki", "kube-scheduler.kubeconfig")}
	cfg["leaderElection"] = map[string]any{"leaderElect": false}
	exts, _ := cfg["extenders"].([]any)
	if len(exts) != 1 {
		return "", fmt.Errorf("deploy/scheduler/scheduler-config.yaml: %d extenders, want 1", len(exts))
	}
	ext, _ := exts[0].(map[string]any)
	if ext == nil {
		return "", fmt.Errorf("deploy/scheduler/scheduler-config.yaml: bad extender")
	}
	ext["urlPrefix"] = c.ExtenderURL()
	out, err := yaml.Marshal(cfg)
	if err != nil {
		return "", err
	}
	file := c.o.path("scheduler-config.yaml")
	return file, os.WriteFile(file, out, 0o644)
}

// checkTools fails when a program the cluster needs is missing.
func (o *Options) checkTools() error {
	for _, t := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kubectl", "helm",
		"csi-provisioner", "csi-resizer", "csi-snapshotter", "snapshot-controller"} {
		if _, err := os.Stat(o.tool(t)); err != nil {
			return fmt.Errorf("%s missing in %s: run make tools-e2e", t, o.ToolsBin)
		}
	}
	for _, t := range []string{"containerd", "containerd-shim-runc-v2", "runc", "ctr", "iptables", "ip", "losetup", "mkfs.btrfs", "lvm", "nsenter"} {
		if _, err := lookPath(t); err != nil {
			return fmt.Errorf("%s is not installed: run make cluster-deps (apt-get install containerd runc containernetworking-plugins iptables lvm2 btrfs-progs)", t)
		}
	}
	if _, err := os.Stat("/usr/lib/cni/bridge"); err != nil {
		return fmt.Errorf("/usr/lib/cni/bridge missing: apt-get install containernetworking-plugins")
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(o.ToolsBin), "crds", "snapshot")); err != nil {
		return fmt.Errorf("VolumeSnapshot CRDs missing: run make tools-e2e")
	}
	return nil
}

func lookPath(name string) (string, error) {
	for _, d := range []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"} {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", name)
}
