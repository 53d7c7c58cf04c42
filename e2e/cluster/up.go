package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Cluster is a running local cluster.
type Cluster struct {
	o      Options
	st     *State
	pki    *pki
	cs     *kubernetes.Clientset
	images imageSet
	server string // the API server's URL
	t0     time.Time
}

// UpOptions say what Up does besides starting the cluster.
type UpOptions struct {
	// NoSuite skips installing TopoLVM and TopoLS with their charts.
	NoSuite bool
	// KeepOnFailure leaves what was started for inspection when Up fails
	// (Down removes it later); by default a failed Up tears down.
	KeepOnFailure bool
	// DefaultControllerManagerQPS keeps kube-controller-manager at its
	// default client rate limits (20 QPS, burst 30) instead of 100/200,
	// for benchmarks at the control plane's defaults.
	DefaultControllerManagerQPS bool
}

// Up starts the control plane and o.Nodes kubelet nodes in the lab
// directory, imports the images into every node and, unless told
// otherwise, installs both drivers and the scheduler extender with their
// Helm charts.
func Up(ctx context.Context, o Options, uo UpOptions) (c *Cluster, err error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("the local cluster needs root (namespaces, loop devices, mounts, cgroups)")
	}
	if err := o.checkTools(); err != nil {
		return nil, err
	}
	c = &Cluster{o: o, t0: time.Now()}
	if err := acquireMachineLock(ctx, c.logf); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil && !uo.KeepOnFailure {
			releaseMachineLock()
		}
	}()
	if err := c.loadImages(); err != nil {
		return nil, err
	}
	for _, d := range []string{"", "logs"} {
		if err := os.MkdirAll(o.path(d), 0o755); err != nil {
			return nil, err
		}
	}
	if c.st, err = newState(o.path(stateName)); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil && !uo.KeepOnFailure {
			c.logf("FAILED: %v; tearing down (logs were in %s)", err, o.path("logs"))
			if derr := Down(context.Background(), o); derr != nil {
				c.logf("teardown: %v", derr)
			}
		}
	}()
	c.logf("lab directory %s, %d nodes, tools %s, images %s (tag %s)", o.Dir, o.Nodes, o.ToolsBin, o.ImagesDir, c.images.tag)
	if c.pki, err = o.writePKI(o.Nodes); err != nil {
		return c, err
	}
	if err = c.setupBridge(ctx); err != nil {
		return c, err
	}
	if err = c.startEtcdAndAPIServer(ctx); err != nil {
		return c, err
	}
	c.logf("etcd and kube-apiserver ready at %s", c.server)
	if err = c.startControllers(ctx, !uo.DefaultControllerManagerQPS); err != nil {
		return c, err
	}
	kcm := "API QPS raised to 100, burst 200; default 20/30"
	if uo.DefaultControllerManagerQPS {
		kcm = "API QPS at its defaults, 20, burst 30"
	}
	c.logf("kube-controller-manager (%s), kube-scheduler (with the topolvm-scheduler extender), snapshot-controller started", kcm)
	if err = c.buildSidecarImages(); err != nil {
		return c, err
	}
	if err = c.saveSysctls(); err != nil {
		return c, err
	}
	if err = c.parallelNodes(func(i int) error { return c.startNode(ctx, i) }); err != nil {
		return c, err
	}
	c.logf("%d nodes: containerd up (each node: own PID/mount/net namespaces, containerd, kubelet, VG %q, btrfs pool at %s)", o.Nodes, vgName, poolPath)
	if err = c.importImages(ctx); err != nil {
		return c, err
	}
	c.logf("images imported into every node: %d", len(c.images.tars))
	if err = c.waitNodesReady(ctx); err != nil {
		return c, err
	}
	c.logf("%d nodes Ready", o.Nodes)
	if !uo.NoSuite {
		if err = c.installSuite(ctx); err != nil {
			return c, err
		}
	}
	c.logf("cluster up in %.1f s; export KUBECONFIG=%s", time.Since(c.t0).Seconds(), o.Kubeconfig())
	return c, nil
}

// Client is a clientset for the cluster's administrator.
func (c *Cluster) Client() *kubernetes.Clientset { return c.cs }

// Kubeconfig is the administrator's kubeconfig file.
func (c *Cluster) Kubeconfig() string { return c.o.Kubeconfig() }

// Down tears the cluster down (see the package Down) and lets the next
// cluster on this machine start.
func (c *Cluster) Down(ctx context.Context) error {
	defer releaseMachineLock()
	return Down(ctx, c.o)
}

func (c *Cluster) logf(format string, args ...any) {
	fmt.Fprintf(c.o.Out, "[%6.1fs] %s\n", time.Since(c.t0).Seconds(), fmt.Sprintf(format, args...))
}

func (c *Cluster) parallelNodes(f func(i int) error) error {
	var wg sync.WaitGroup
	errs := make([]error, c.o.Nodes)
	for i := 1; i <= c.o.Nodes; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i-1] = f(i)
		}(i)
	}
	wg.Wait()
	return errors.Join(errs...)
}

// waitFor polls cond every 100 ms until it is true, fails, or timeout.
func (c *Cluster) waitFor(ctx context.Context, what string, timeout time.Duration, cond func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		ok, err := cond()
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out after %v waiting for %s", timeout, what)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (c *Cluster) waitNodesReady(ctx context.Context) error {
	return c.waitFor(ctx, "nodes Ready", 3*time.Minute, func() (bool, error) {
		for name, pid := range c.st.Nodes {
			if err := processAlive(pid); err != nil {
				return false, fmt.Errorf("%s: %w: see %s", name, err, c.o.path("logs", name+".log"))
			}
		}
		nodes, err := c.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		ready := 0
		for _, n := range nodes.Items {
			for _, cond := range n.Status.Conditions {
				if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
					ready++
				}
			}
		}
		return ready == c.o.Nodes, nil
	})
}

func processAlive(pid int) error {
	if _, err := procStart(pid); err != nil {
		return errors.New("node init exited")
	}
	return nil
}

// The kernel settings a kubelet changes at start (protectKernelDefaults
// false); Down puts back what was there before.
var kubeletSysctls = []string{"vm.overcommit_memory", "vm.panic_on_oom", "kernel.panic", "kernel.panic_on_oops",
	"kernel.keys.root_maxkeys", "kernel.keys.root_maxbytes"}

func sysctlPath(key string) string { return "/proc/sys/" + strings.ReplaceAll(key, ".", "/") }

func (c *Cluster) saveSysctls() error {
	saved := map[string]string{}
	for _, k := range kubeletSysctls {
		b, err := os.ReadFile(sysctlPath(k))
		if err != nil {
			return err
		}
		saved[k] = strings.TrimSpace(string(b))
	}
	return c.st.update(func(s *State) { s.Sysctls = saved })
}
