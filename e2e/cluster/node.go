package cluster

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	lvmdconfig "github.com/toposuite/toposuite/lvmd/config"
	"github.com/toposuite/toposuite/lvmd/lvm"
)

// nodeConfig is what a node's init reads (<lab>/nodeN/node.json).
type nodeConfig struct {
	Name     string `json:"name"`
	IP       string `json:"ip"`
	MaskBits int    `json:"maskBits"`
	Gateway  string `json:"gateway"`
	// APIServer is host:port; ServiceIP:443 is NATed to it in the node.
	APIServer string `json:"apiServer"`
	ServiceIP string `json:"serviceIP"`
	// Dir is the node's directory in the lab.
	Dir string `json:"dir"`
	// PV is the loop device of the node's volume group, Btrfs that of its
	// btrfs pool, mounted at PoolPath.
	PV       string `json:"pv"`
	VG       string `json:"vg"`
	Btrfs    string `json:"btrfs"`
	PoolPath string `json:"poolPath"`
	// SmallPV, SmallVG, SmallBtrfs and SmallPoolPath are the same for the
	// small device class (devclasses.go).
	SmallPV       string `json:"smallPV,omitempty"`
	SmallVG       string `json:"smallVG,omitempty"`
	SmallBtrfs    string `json:"smallBtrfs,omitempty"`
	SmallPoolPath string `json:"smallPoolPath,omitempty"`
	// Containerd and Kubelet are the command lines the init runs.
	Containerd []string `json:"containerd"`
	Kubelet    []string `json:"kubelet"`
	// Socket is containerd's socket (in the lab, reachable from the host).
	Socket string `json:"socket"`
}

// node directories (in <lab>/nodeN): kubelet (the kubelet's root dir, seen
// as /var/lib/kubelet in the node), cni (state), net.d (CNI config), logs,
// lvm (the node's /etc/lvm), containerd (root), disks.
var nodeDirs = []string{"kubelet", "cni", "net.d", "logs/pods", "logs/containers", "lvm", "containerd", "disks"}

// startNode prepares node i on the host and starts its init in fresh
// namespaces; it returns once containerd answers in the node.
func (c *Cluster) startNode(ctx context.Context, i int) error {
	name := nodeName(i)
	dir := c.o.path(name)
	for _, d := range nodeDirs {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	pv, err := c.loop(ctx, filepath.Join(dir, "disks", "lvm.img"))
	if err != nil {
		return err
	}
	bt, err := c.loop(ctx, filepath.Join(dir, "disks", "btrfs.img"))
	if err != nil {
		return err
	}
	if _, err := run(ctx, nil, "mkfs.btrfs", "-q", "-f", "-L", "toposuite-"+name, bt); err != nil {
		return err
	}
	smallPV, smallBt, err := c.smallDisks(ctx, dir, name)
	if err != nil {
		return err
	}
	spares, err := c.spareDisks(ctx, dir)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "lvm", "lvm.conf"), []byte(lvmConf(append([]string{pv, smallPV}, spares...)...)), 0o644); err != nil {
		return err
	}
	if err := lvm.CopyProfile(lvmdconfig.DefaultShellProfile, filepath.Join(dir, "lvm")); err != nil {
		return err
	}
	if _, err := c.cgroups(name); err != nil {
		return err
	}
	sock := filepath.Join(dir, "containerd.sock")
	if err := c.writeNodeFiles(name, i, dir, sock); err != nil {
		return err
	}
	cfg := nodeConfig{
		Name: name, IP: nodeIP(i), MaskBits: netMaskBits, Gateway: hostIP,
		APIServer: strings.TrimPrefix(c.server, "https://"), ServiceIP: serviceIP,
		Dir: dir, PV: pv, VG: vgName, Btrfs: bt, PoolPath: poolPath, Socket: sock,
		SmallPV: smallPV, SmallVG: smallVG, SmallBtrfs: smallBt, SmallPoolPath: smallPoolPath,
		Containerd: []string{mustLookPath("containerd"), "--config", filepath.Join(dir, "containerd.toml")},
		Kubelet: []string{c.o.tool("kubelet"),
			"--config", filepath.Join(dir, "kubelet.yaml"),
			"--kubeconfig", filepath.Join(dir, "kubelet.kubeconfig"),
			"--hostname-override", name, "--node-ip", nodeIP(i), "--v", "1"},
	}
	b, _ := json.MarshalIndent(cfg, "", "  ")
	cfgFile := filepath.Join(dir, "node.json")
	if err := os.WriteFile(cfgFile, b, 0o644); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer w.Close()
	p, err := startProcess(spawn{
		name: name, path: self, args: []string{"node-init", cfgFile},
		env:   []string{NodeInitEnv + "=" + cfgFile},
		log:   c.o.path("logs", name+".log"),
		files: []*os.File{r},
		attr: &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS | syscall.CLONE_NEWNET |
			syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC},
	})
	r.Close()
	if err != nil {
		return err
	}
	if err := c.st.update(func(s *State) {
		s.Processes = append(s.Processes, p)
		s.Nodes[name] = p.PID
	}); err != nil {
		return err
	}
	if err := c.plugNode(ctx, i, p.PID); err != nil {
		return err
	}
	// The node's network is there: let its init go on.
	if _, err := w.Write([]byte{1}); err != nil {
		return fmt.Errorf("%s: init is gone: see %s", name, c.o.path("logs", name+".log"))
	}
	return c.waitFor(ctx, name+" containerd", 60*time.Second, func() (bool, error) {
		if !p.alive() {
			return false, fmt.Errorf("%s: init exited: see %s", name, c.o.path("logs", name+".log"))
		}
		conn, err := net.Dial("unix", sock)
		if err != nil {
			return false, nil
		}
		conn.Close()
		return true, nil
	})
}

// loop attaches a fresh sparse file to a loop device, recorded in the state.
func (c *Cluster) loop(ctx context.Context, file string) (string, error) {
	return c.loopSized(ctx, file, c.o.DiskSize)
}

// loopSized attaches a fresh sparse file of size bytes to a loop device.
func (c *Cluster) loopSized(ctx context.Context, file string, size int64) (string, error) {
	f, err := os.Create(file)
	if err != nil {
		return "", err
	}
	err = f.Truncate(size)
	f.Close()
	if err != nil {
		return "", err
	}
	out, err := run(ctx, nil, "losetup", "--find", "--show", file)
	if err != nil {
		return "", err
	}
	dev := strings.TrimSpace(out)
	return dev, c.st.update(func(s *State) { s.Loops = append(s.Loops, Loop{Dev: dev, File: file}) })
}

// lvmConf is a node's private LVM configuration (TESTBED §2): it sees only
// the node's own physical volumes, runs without device-mapper (lvmd's
// development-loop activation gives LVs their devices) and keeps its
// metadata backups in the node's own /etc/lvm.
func lvmConf(pvs ...string) string {
	var accept string
	for _, pv := range pvs {
		accept += fmt.Sprintf(`"a|^%s$|",`, pv)
	}
	return fmt.Sprintf(`devices { use_devicesfile=0 obtain_device_list_from_udev=0 filter=[%s"r|.*|"] scan_lvs=0 }
global { activation=0 use_aio=0 notify_dbus=0 use_lvmpolld=0 event_activation=0 }
activation { udev_sync=0 udev_rules=0 monitoring=0 }
`, accept)
}

// cgroups makes the node's cgroup root (the kubelet's cgroupRoot) in every
// hierarchy; the kubelet refuses a root that does not exist.
func (c *Cluster) cgroups(name string) ([]string, error) {
	mounts, err := cgroupMounts()
	if err != nil {
		return nil, err
	}
	var made []string
	for _, m := range mounts {
		d := filepath.Join(m, "toposuite-"+name)
		if err := c.st.update(func(s *State) { s.Cgroups = append(s.Cgroups, d) }); err != nil {
			return nil, err
		}
		if err := os.Mkdir(d, 0o755); err != nil && !os.IsExist(err) {
			return nil, err
		}
		if filepath.Base(m) == "cpuset" {
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				b, err := os.ReadFile(filepath.Join(m, f))
				if err != nil {
					return nil, err
				}
				if err := os.WriteFile(filepath.Join(d, f), b, 0o644); err != nil {
					return nil, err
				}
			}
		}
		made = append(made, d)
	}
	return made, nil
}

// cgroupMounts lists the cgroup (v1 and v2) mount points.
func cgroupMounts() ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		for j, fld := range fields {
			if fld == "-" && j+1 < len(fields) && (fields[j+1] == "cgroup" || fields[j+1] == "cgroup2") {
				out = append(out, fields[4])
			}
		}
	}
	return out, sc.Err()
}

func mustLookPath(name string) string {
	p, err := lookPath(name)
	if err != nil {
		return name
	}
	return p
}
