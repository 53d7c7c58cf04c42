package cluster

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Options say where the cluster lives and what it is built from.
type Options struct {
	// Dir is the lab directory: every file of the cluster, and its state
	// file. Default $TOPOSUITE_CLUSTER_DIR, else /var/tmp/toposuite-cluster.
	Dir string
	// Nodes is the number of kubelet nodes (1 to 9, default 3).
	Nodes int
	// ToolsBin holds etcd, kube-*, kubelet, kubectl, helm and the CSI
	// sidecars (make tools-e2e). Default $KUBEBUILDER_ASSETS, else
	// ~/.cache/toposuite/tools/bin.
	ToolsBin string
	// Repo is the repository root: deploy/charts and bin/images (make images).
	Repo string
	// ImagesDir holds the image tarballs and images.txt. Default Repo/bin/images.
	ImagesDir string
	// Out receives the progress lines.
	Out io.Writer
	// DiskSize is the size in bytes of each node's loop files, one for the
	// volume group and one for the btrfs pool (sparse; default 10 GiB).
	DiskSize int64
	// SpareDisks is the number of blank loop devices (DiskSize each) every
	// node gets besides those (spares.go); default none.
	SpareDisks int
	// ExtraImages are images of make images every node gets besides the
	// ones the charts' default installation uses, e.g. topolvm-operator,
	// and lvmd and btrfsd for prepare's init containers.
	ExtraImages []string
	// ExtenderService is the Service of the scheduler extender that
	// kube-scheduler reaches through the host's service proxy (port 9251,
	// the chart's listenPort). Default the suite's: topolvm-scheduler in
	// namespace topolvm-scheduler; a test that installs the extender
	// otherwise (the operator's, in its own namespace) names its Service.
	ExtenderService ServiceRef
}

// ServiceRef names a Service.
type ServiceRef struct {
	Namespace, Name string
}

// Network layout: a host-only bridge, one address per node on it, one pod
// subnet per node, the usual service range. Nothing listens on the
// machine's external interfaces.
const (
	bridgeName    = "tpsbr0"
	hostIP        = "10.231.0.1"
	nodeNetPrefix = "10.231.0."
	netMaskBits   = 24
	serviceCIDR   = "10.96.0.0/16"
	serviceIP     = "10.96.0.1"
	// vgName is each node's volume group; every node has its own, under the
	// same name, as a DaemonSet's one lvmd config expects.
	vgName = "toposuite"
	// poolPath is where each node mounts its btrfs pool (the topols chart's default).
	poolPath = "/var/lib/topols/default"
	// defaultDiskSize is the default size of each loop file (sparse).
	defaultDiskSize = 10 << 30
)

func (o *Options) defaults() error {
	if o.Dir == "" {
		o.Dir = os.Getenv("TOPOSUITE_CLUSTER_DIR")
	}
	if o.Dir == "" {
		o.Dir = "/var/tmp/toposuite-cluster"
	}
	d, err := filepath.Abs(o.Dir)
	if err != nil {
		return err
	}
	o.Dir = filepath.Clean(d)
	// The nodes mount private directories over these; a lab inside one of
	// them would vanish from the nodes' view.
	for _, p := range []string{"/run", "/var/run", "/var/lib", "/var/log", "/etc/lvm", "/proc", "/sys", "/dev"} {
		if o.Dir == p || strings.HasPrefix(o.Dir, p+"/") || o.Dir == "/" {
			return fmt.Errorf("lab directory %s: must not be / or under %s", o.Dir, p)
		}
	}
	if o.Nodes == 0 {
		o.Nodes = 3
	}
	if o.Nodes < 1 || o.Nodes > 9 {
		return fmt.Errorf("nodes: %d, want 1 to 9", o.Nodes)
	}
	if o.ToolsBin == "" {
		o.ToolsBin = os.Getenv("KUBEBUILDER_ASSETS")
	}
	if o.ToolsBin == "" {
		home, _ := os.UserHomeDir()
		o.ToolsBin = filepath.Join(home, ".cache", "toposuite", "tools", "bin")
	}
	if o.Repo == "" {
		r, err := findRepo()
		if err != nil {
			return err
		}
		o.Repo = r
	}
	if o.ImagesDir == "" {
		o.ImagesDir = filepath.Join(o.Repo, "bin", "images")
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.DiskSize == 0 {
		o.DiskSize = defaultDiskSize
	}
	if o.ExtenderService == (ServiceRef{}) {
		o.ExtenderService = ServiceRef{Namespace: schedulerNamespace, Name: schedulerRelease}
	}
	if o.ExtenderService.Namespace == "" || o.ExtenderService.Name == "" {
		return fmt.Errorf("extender service %+v: want both a namespace and a name", o.ExtenderService)
	}
	if o.SpareDisks < 0 || o.SpareDisks > 8 {
		return fmt.Errorf("spare disks: %d per node, want 0 to 8", o.SpareDisks)
	}
	if o.DiskSize < 1<<30 {
		return fmt.Errorf("disk size: %d bytes, want at least 1 GiB", o.DiskSize)
	}
	return nil
}

// findRepo walks up from the working directory to the directory holding deploy/charts.
func findRepo() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if st, err := os.Stat(filepath.Join(d, "deploy", "charts")); err == nil && st.IsDir() {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("no deploy/charts above the working directory: set the repository root")
		}
		d = parent
	}
}

func (o *Options) tool(name string) string { return filepath.Join(o.ToolsBin, name) }

// Paths in the lab directory.
func (o *Options) path(elem ...string) string {
	return filepath.Join(append([]string{o.Dir}, elem...)...)
}

// Kubeconfig is the administrator's kubeconfig of the cluster.
func (o *Options) Kubeconfig() string { return o.path("kubeconfig") }

func nodeName(i int) string { return fmt.Sprintf("node%d", i) }
func nodeIP(i int) string   { return fmt.Sprintf("%s%d", nodeNetPrefix, 10+i) }
func podCIDR(i int) string  { return fmt.Sprintf("10.232.%d.0/24", i) }
