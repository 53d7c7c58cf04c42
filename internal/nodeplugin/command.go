package nodeplugin

import (
	"context"
	"fmt"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"

	"github.com/toposuite/toposuite/csi"
	"github.com/toposuite/toposuite/internal/cli"
	"github.com/toposuite/toposuite/internal/daemon"
)

// Binary is what makes topolvm-node and topols-node different programs.
type Binary struct {
	Use, Short, Long string
	// DefaultDriver is the CSI driver name unless --driver-name says otherwise.
	DefaultDriver string
	// Daemon names the storage daemon (lvmd, btrfsd) in flag names.
	Daemon string
	// Profile gives the driver's profile for a driver name.
	Profile func(name string) csi.Driver
	// Publisher builds the publisher.
	Publisher func() csi.Publisher
	// MetricNames are the daemon's capacity gauge names, exported by the node.
	MetricNames daemon.MetricNames
	// Embed loads the daemon's config file and returns how to start it in process.
	Embed func(configPath string, log logr.Logger) (func(ctx context.Context) (*daemon.Instance, error), error)
}

// NewCommand returns the cobra command of a node binary.
func NewCommand(b Binary) *cobra.Command {
	var (
		f            Flags
		log          cli.LogFlags
		socket, conf string
	)
	cmd := cli.NewRoot(b.Use, b.Short, b.Long)
	log.Register(cmd)
	f.Register(cmd.Flags(), b.DefaultDriver)
	cmd.Flags().StringVar(&socket, b.Daemon+"-socket", "", b.Daemon+"'s socket (standalone "+b.Daemon+")")
	cmd.Flags().StringVar(&conf, b.Daemon+"-config", "", b.Daemon+" configuration file: run "+b.Daemon+" inside this process")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		l, err := log.Logger(cmd)
		if err != nil {
			return err
		}
		cli.RouteLibraryLogs(l)
		if err := f.Check(); err != nil {
			return err
		}
		if (socket == "") == (conf == "") {
			return fmt.Errorf("give exactly one of --%s-socket and --%s-config", b.Daemon, b.Daemon)
		}
		rc, err := f.Kube.RestConfig()
		if err != nil {
			return err
		}
		o := Options{
			Driver: b.Profile(f.DriverName), NodeName: f.NodeName, CSISocket: f.CSISocket, TargetRoot: f.KubeletDir,
			KubeletRegistrationPath: f.RegistrationPath,
			DaemonSocket:            socket, MetricsAddress: f.MetricsAddress, HealthAddress: f.HealthAddress, RestConfig: rc, Log: l,
			Publisher: b.Publisher(), MetricNames: b.MetricNames,
			Orphans: f.Orphans, OrphanGrace: f.OrphanGrace,
			FreeAlertPercent: f.FreeAlertPercent, ThinPoolAlertPercent: f.ThinPoolAlertPercent,
		}
		if conf != "" {
			if o.Embedded, err = b.Embed(conf, l.WithName(b.Daemon)); err != nil {
				return err
			}
		}
		return Run(cli.ContextOrBackground(cmd), o)
	}
	return cmd
}
