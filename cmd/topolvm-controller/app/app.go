// Package app builds the topolvm-controller command.
package app

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/toposuite/toposuite/csi"
	"github.com/toposuite/toposuite/internal/cli"
	"github.com/toposuite/toposuite/internal/controllerplugin"
)

// Options are topolvm-controller's settings.
type Options struct {
	DriverName       string
	Storage          string
	CSISocket        string
	MetricsAddress   string
	HealthAddress    string
	LeaderElection   bool
	LeaderElectionNS string
	LeakGrace        time.Duration
	FastBinding      bool
	DeleteClaims     bool
	WebhookAddress   string
	WebhookCertDir   string
	Kube             cli.KubeFlags
	Log              cli.LogFlags
}

// NewCommand returns the topolvm-controller command.
func NewCommand() *cobra.Command {
	o := &Options{}
	cmd := cli.NewRoot("topolvm-controller", "CSI controller service for topolvm.io and topols.io",
		`topolvm-controller serves the CSI Controller service of one driver: it turns
CreateVolume into a LogicalVolume object for the chosen node and waits for the
node's answer (woken by the API server's events, never by polling); it also
serves GetCapacity from the capacity nodes publish, snapshots and expansion.
--driver-name topols.io makes the same binary serve TopoLS.

With --webhook-address it also serves the pod mutating webhook (HTTPS, path
/pod/mutate): pods that still need capacity of the driver get the bytes per
device class in annotations capacity.<driver>/<class> and one unit of the
extended resource <driver>/capacity, which sends them to the scheduler
extender.`)
	o.Log.Register(cmd)
	f := cmd.Flags()
	f.StringVar(&o.DriverName, "driver-name", "topolvm.io", "CSI driver name")
	f.StringVar(&o.Storage, "storage", "", "lvm or btrfs (default: btrfs for driver names starting with topols, else lvm)")
	f.StringVar(&o.CSISocket, "csi-socket", "/run/topolvm/csi-controller.sock", "unix socket the CSI sidecars reach the controller on")
	f.StringVar(&o.MetricsAddress, "metrics-address", ":8080", "address of /metrics (0 disables)")
	f.StringVar(&o.HealthAddress, "health-address", ":8081", "address of /healthz and /readyz (0 disables)")
	f.BoolVar(&o.LeaderElection, "leader-election", true, "elect a leader among replicas for the clean-up controllers (the CSI service runs on every replica)")
	f.StringVar(&o.LeaderElectionNS, "leader-election-namespace", "", "namespace of the leader election lease (default: the pod's)")
	f.DurationVar(&o.LeakGrace, "leak-grace", 10*time.Minute, "delete LogicalVolumes no PersistentVolume refers to after this long (0 disables)")
	// Both off by default: each needs rights on every claim of the cluster
	// (update; delete), which the charts grant only when it is turned on.
	f.BoolVar(&o.FastBinding, "fast-binding", false, "bind this driver's claims to their new volumes, release them and let deleted volumes go without waiting for kube-controller-manager's one-at-a-time PersistentVolume controllers; needs update rights on PVCs and PVs (docs/csi.md)")
	f.BoolVar(&o.DeleteClaims, "delete-claims-of-deleted-nodes", false, "when a Node is deleted, also delete the PVCs bound to this driver's volumes on it, so that StatefulSets start over elsewhere; needs delete rights on PVCs (docs/csi.md)")
	f.StringVar(&o.WebhookAddress, "webhook-address", "", "host:port of the pod mutating webhook's HTTPS server, e.g. :9443 (empty disables the webhook)")
	f.StringVar(&o.WebhookCertDir, "webhook-cert-dir", "/etc/toposuite/webhook", "directory of the webhook's serving certificate and key (tls.crt, tls.key), reloaded when they change")
	o.Kube.Register(f)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error { return o.run(cli.ContextOrBackground(cmd), cmd) }
	return cmd
}

// driver returns the driver profile the options select.
func (o *Options) driver() (csi.Driver, error) {
	storage := o.Storage
	if storage == "" {
		storage = "lvm"
		if strings.HasPrefix(o.DriverName, "topols") {
			storage = "btrfs"
		}
	}
	switch storage {
	case "lvm":
		return csi.LVMDriver(o.DriverName), nil
	case "btrfs":
		return csi.BtrfsDriver(o.DriverName), nil
	}
	return csi.Driver{}, fmt.Errorf("--storage %q is not lvm or btrfs", storage)
}

func (o *Options) run(ctx context.Context, cmd *cobra.Command) error {
	log, err := o.Log.Logger(cmd)
	if err != nil {
		return err
	}
	cli.RouteLibraryLogs(log)
	d, err := o.driver()
	if err != nil {
		return err
	}
	rc, err := o.Kube.RestConfig()
	if err != nil {
		return err
	}
	return controllerplugin.Run(ctx, controllerplugin.Options{
		Driver: d, CSISocket: o.CSISocket, MetricsAddress: o.MetricsAddress, HealthAddress: o.HealthAddress,
		LeaderElection: o.LeaderElection, LeaderElectionNamespace: o.LeaderElectionNS, LeakGrace: o.LeakGrace,
		FastBinding: o.FastBinding, DeleteClaimsOfDeletedNodes: o.DeleteClaims,
		WebhookAddress: o.WebhookAddress, WebhookCertDir: o.WebhookCertDir, RestConfig: rc, Log: log,
	})
}
