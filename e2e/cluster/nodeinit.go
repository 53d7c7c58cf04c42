package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// NodeInitEnv names the environment variable that makes a binary embedding
// this package run as a node's init (see RunNodeInitIfAsked).
const NodeInitEnv = "TOPOSUITE_CLUSTER_NODE_INIT"

// RunNodeInitIfAsked runs NodeInit and exits when the process was started
// as a node's init; it returns otherwise (RunHelperIfAsked calls it).
func RunNodeInitIfAsked() {
	cfg := os.Getenv(NodeInitEnv)
	if cfg == "" || os.Getpid() != 1 {
		return
	}
	if err := NodeInit(cfg); err != nil {
		log.Printf("node init: %v", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// NodeInit is PID 1 of a node: fresh PID, mount, network, UTS and IPC
// namespaces. It waits until the host has plugged the node's network (a
// byte on fd 3), makes the node's private filesystem view, network and
// volume group, runs containerd and the kubelet (restarting them if they
// die), reaps orphans, and on SIGTERM kills every process of the node.
func NodeInit(cfgFile string) error {
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	b, err := os.ReadFile(cfgFile)
	if err != nil {
		return err
	}
	var cfg nodeConfig
	if err := json.Unmarshal(b, &cfg); err != nil {
		return err
	}
	sync := os.NewFile(3, "sync")
	one := make([]byte, 1)
	if _, err := sync.Read(one); err != nil {
		return fmt.Errorf("waiting for the host: %w", err)
	}
	sync.Close()
	if err := unix.Sethostname([]byte(cfg.Name)); err != nil {
		return err
	}
	if err := nodeMounts(&cfg); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := nodeNetwork(ctx, &cfg); err != nil {
		return err
	}
	if err := nodeVG(ctx, &cfg); err != nil {
		return err
	}
	return supervise(&cfg)
}

func mount(src, target, fstype string, flags uintptr, data string) error {
	if err := unix.Mount(src, target, fstype, flags, data); err != nil {
		return fmt.Errorf("mount %s on %s (%s): %w", src, target, fstype, err)
	}
	return nil
}

// nodeMounts gives the node its own /proc, /run, /var/lib, /var/log and
// /etc/lvm, the kubelet's root at /var/lib/kubelet and the btrfs pool at
// its path. Nothing here is seen by the host: the namespace is made
// private first, then shared within itself (as systemd does) so that
// Bidirectional and HostToContainer mounts of pods work.
func nodeMounts(cfg *nodeConfig) error {
	if err := mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return err
	}
	if err := mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return err
	}
	for _, d := range []string{"/run", "/var/lib", "/var/log"} {
		if err := mount("tmpfs", d, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=755"); err != nil {
			return err
		}
	}
	for _, d := range []string{"/run/lock", "/run/lvm", "/run/containerd", "/var/lib/kubelet", "/var/lib/cni", cfg.PoolPath,
		"/var/log/pods", "/var/log/containers"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod("/run/lock", 0o1777); err != nil {
		return err
	}
	binds := [][2]string{
		{filepath.Join(cfg.Dir, "kubelet"), "/var/lib/kubelet"},
		{filepath.Join(cfg.Dir, "cni"), "/var/lib/cni"},
		{filepath.Join(cfg.Dir, "logs", "pods"), "/var/log/pods"},
		{filepath.Join(cfg.Dir, "logs", "containers"), "/var/log/containers"},
		{filepath.Join(cfg.Dir, "lvm"), "/etc/lvm"},
	}
	for _, b := range binds {
		if err := mount(b[0], b[1], "", unix.MS_BIND, ""); err != nil {
			return err
		}
	}
	if err := mount(cfg.Btrfs, cfg.PoolPath, "btrfs", 0, ""); err != nil {
		return err
	}
	if cfg.SmallBtrfs != "" {
		if err := os.MkdirAll(cfg.SmallPoolPath, 0o755); err != nil {
			return err
		}
		if err := mount(cfg.SmallBtrfs, cfg.SmallPoolPath, "btrfs", 0, ""); err != nil {
			return err
		}
	}
	return mount("", "/", "", unix.MS_REC|unix.MS_SHARED, "")
}

// nodeNetwork brings up eth0 (plugged by the host), routes through the
// host, and NATs the kubernetes service's address to the API server: this
// cluster has no kube-proxy, and in-cluster clients only need that one
// service. The rules live in the node's network namespace and go with it.
func nodeNetwork(ctx context.Context, cfg *nodeConfig) error {
	cmds := [][]string{
		{"ip", "link", "set", "lo", "up"},
		{"ip", "addr", "add", fmt.Sprintf("%s/%d", cfg.IP, cfg.MaskBits), "dev", "eth0"},
		{"ip", "link", "set", "eth0", "up"},
		{"ip", "route", "add", "default", "via", cfg.Gateway},
	}
	for _, chain := range []string{"PREROUTING", "OUTPUT"} {
		cmds = append(cmds, []string{"iptables", "-w", "-t", "nat", "-A", chain, "-d", cfg.ServiceIP + "/32", "-p", "tcp",
			"--dport", "443", "-j", "DNAT", "--to-destination", cfg.APIServer})
	}
	for _, c := range cmds {
		if _, err := run(ctx, nil, c[0], c[1:]...); err != nil {
			return err
		}
	}
	return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644)
}

// nodeVG makes the node's volume groups on their loop devices, unless there.
func nodeVG(ctx context.Context, cfg *nodeConfig) error {
	env := []string{"LVM_SUPPRESS_FD_WARNINGS=1"}
	for _, g := range [][2]string{{cfg.VG, cfg.PV}, {cfg.SmallVG, cfg.SmallPV}} {
		if g[0] == "" {
			continue
		}
		if _, err := run(ctx, env, "lvm", "vgs", g[0]); err == nil {
			continue
		}
		if _, err := run(ctx, env, "lvm", "pvcreate", "-y", g[1]); err != nil {
			return err
		}
		if _, err := run(ctx, env, "lvm", "vgcreate", "-y", g[0], g[1]); err != nil {
			return err
		}
	}
	return nil
}

// supervise runs containerd, then the kubelet, restarts either if it
// dies, reaps every orphan of the node, and stops everything on SIGTERM.
func supervise(cfg *nodeConfig) error {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGCHLD, syscall.SIGTERM, syscall.SIGINT)
	logDir := filepath.Join(filepath.Dir(cfg.Dir), "logs")
	start := func(name string, argv []string) int {
		for {
			f, err := os.OpenFile(filepath.Join(logDir, cfg.Name+"-"+name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
			if err == nil {
				p, err2 := os.StartProcess(argv[0], argv, &os.ProcAttr{
					Env: childEnv(), Files: []*os.File{nil, f, f},
				})
				f.Close()
				if err2 == nil {
					log.Printf("%s started, pid %d", name, p.Pid)
					return p.Pid
				}
				err = err2
			}
			log.Printf("start %s: %v; retrying", name, err)
			time.Sleep(time.Second)
		}
	}
	containerd := start("containerd", cfg.Containerd)
	for deadline := time.Now().Add(time.Minute); ; {
		if conn, err := net.Dial("unix", cfg.Socket); err == nil {
			conn.Close()
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("containerd does not answer on %s", cfg.Socket)
		}
		time.Sleep(50 * time.Millisecond)
	}
	kubelet := start("kubelet", cfg.Kubelet)
	for sig := range sigs {
		if sig != syscall.SIGCHLD {
			// The node is being torn down: nothing to save, so no grace.
			// Killing every other process of the PID namespace takes the
			// kubelet, containerd, the shims and the containers.
			log.Printf("%v: stopping the node", sig)
			_ = syscall.Kill(-1, syscall.SIGKILL)
			reap()
			return nil
		}
		for _, pid := range reap() {
			switch pid {
			case containerd:
				log.Printf("containerd exited; restarting it")
				containerd = start("containerd", cfg.Containerd)
			case kubelet:
				log.Printf("kubelet exited; restarting it")
				time.Sleep(time.Second)
				kubelet = start("kubelet", cfg.Kubelet)
			}
		}
	}
	return nil
}

// reap collects every exited child and returns their PIDs.
func reap() []int {
	var pids []int
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return pids
		}
		pids = append(pids, pid)
	}
}

// childEnv is the init's environment without NodeInitEnv.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, NodeInitEnv+"=") {
			env = append(env, kv)
		}
	}
	return append(env, "LC_ALL=C")
}
