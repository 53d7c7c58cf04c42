package nodeplugin

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/toposuite/toposuite/internal/controller"

	"github.com/toposuite/toposuite/internal/cli"
)

// Flags are the command-line settings both node binaries share; each binary
// adds how to reach its own daemon.
type Flags struct {
	DriverName string
	NodeName   string
	CSISocket  string
	KubeletDir string
	// RegistrationPath: see Options.KubeletRegistrationPath.
	RegistrationPath string
	MetricsAddress   string
	HealthAddress    string
	// Orphans: see Options.Orphans.
	Orphans     string
	OrphanGrace time.Duration
	Kube        cli.KubeFlags

	// FreeAlertPercent, ThinPoolAlertPercent: see Options.
	FreeAlertPercent, ThinPoolAlertPercent float64
}

// Register adds the flags with the driver's defaults.
func (f *Flags) Register(fs *pflag.FlagSet, driver string) {
	fs.StringVar(&f.DriverName, "driver-name", driver, "CSI driver name")
	fs.StringVar(&f.NodeName, "node-name", os.Getenv("NODE_NAME"), "this node's name (default $NODE_NAME)")
	fs.StringVar(&f.CSISocket, "csi-socket", "/var/lib/kubelet/plugins/"+driver+"/node/csi.sock", "unix socket the kubelet reaches the plugin on")
	fs.StringVar(&f.KubeletDir, "kubelet-dir", "/var/lib/kubelet", "the kubelet's root directory; publish targets must be under it")
	fs.StringVar(&f.RegistrationPath, "kubelet-registration-path", "", "register with the kubelet (no node-driver-registrar sidecar), advertising this path of the CSI socket as the kubelet sees it, e.g. the --csi-socket value")
	fs.StringVar(&f.MetricsAddress, "metrics-address", ":8080", "address of /metrics (0 disables)")
	fs.StringVar(&f.HealthAddress, "health-address", ":8081", "address of /healthz and /readyz (0 disables)")
	fs.StringVar(&f.Orphans, "orphan-volumes", controller.OrphansReport, "what to do with a volume on this node that no LogicalVolume names, once --orphan-grace has passed: report (a metric and an Event on the Node), remove, or off")
	fs.DurationVar(&f.OrphanGrace, "orphan-grace", 10*time.Minute, "how long a volume must stay without a LogicalVolume before it counts as an orphan")
	fs.Float64Var(&f.FreeAlertPercent, "free-alert-percent", controller.DefaultFreeAlertPercent, "record a StorageAlmostFull Event on the Node when a device class has less room left than this percentage of its size")
	fs.Float64Var(&f.ThinPoolAlertPercent, "thin-pool-alert-percent", controller.DefaultThinPoolAlertPercent, "record a ThinPoolAlmostFull Event on the Node when a thin pool's data or metadata reaches this percentage")
	f.Kube.Register(fs)
}

// Check reports missing settings.
func (f *Flags) Check() error {
	if f.NodeName == "" {
		return fmt.Errorf("--node-name (or $NODE_NAME) is required")
	}
	switch f.Orphans {
	case controller.OrphansReport, controller.OrphansRemove, "off":
	default:
		return fmt.Errorf("--orphan-volumes must be report, remove or off, not %q", f.Orphans)
	}
	if f.OrphanGrace < time.Minute && f.Orphans != "off" {
		return fmt.Errorf("--orphan-grace must be at least 1m (a volume being made or deleted right now must never count as an orphan), not %s", f.OrphanGrace)
	}
	if f.FreeAlertPercent <= 0 || f.FreeAlertPercent >= 100 || f.ThinPoolAlertPercent <= 0 || f.ThinPoolAlertPercent > 100 {
		return fmt.Errorf("--free-alert-percent must be in (0, 100) and --thin-pool-alert-percent in (0, 100], not %v and %v", f.FreeAlertPercent, f.ThinPoolAlertPercent)
	}
	return nil
}
