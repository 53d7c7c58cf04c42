// Package app builds the topolvm-controller command.
package app

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/fields"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/toposuite/toposuite/csi"
	v1 "github.com/toposuite/toposuite/internal/api/topolvm/v1"
	"github.com/toposuite/toposuite/internal/cli"
	"github.com/toposuite/toposuite/internal/controller"
	"github.com/toposuite/toposuite/internal/nodeplugin"
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
--driver-name topols.io makes the same binary serve TopoLS.`)
	o.Log.Register(cmd)
	f := cmd.Flags()
	f.StringVar(&o.DriverName, "driver-name", "topolvm.io", "CSI driver name")
	f.StringVar(&o.Storage, "storage", "", "lvm or btrfs (default: btrfs for driver names starting with topols, else lvm)")
	f.StringVar(&o.CSISocket, "csi-socket", "/run/topolvm/csi-controller.sock", "unix socket the CSI sidecars reach the controller on")
	f.StringVar(&o.MetricsAddress, "metrics-address", ":8080", "address of /metrics (0 disables)")
	f.StringVar(&o.HealthAddress, "health-address", ":8081", "address of /healthz and /readyz (0 disables)")
	f.BoolVar(&o.LeaderElection, "leader-election", true, "elect a leader among replicas for the clean-up controllers (the CSI service runs on every replica)")
	f.StringVar(&o.LeaderElectionNS, "leader-election-namespace", "", "namespace of the leader election lease (default: the pod's)")
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
	d, err := o.driver()
	if err != nil {
		return err
	}
	rc, err := o.Kube.RestConfig()
	if err != nil {
		return err
	}
	scheme, err := nodeplugin.Scheme()
	if err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(rc, ctrl.Options{
		Scheme: scheme,
		Logger: log,
		Cache: cache.Options{ByObject: map[client.Object]cache.ByObject{
			&v1.LogicalVolume{}: {Field: fields.OneTermEqualSelector("spec.driverName", d.Name)},
		}},
		Metrics:                 metricsserver.Options{BindAddress: o.MetricsAddress},
		HealthProbeBindAddress:  o.HealthAddress,
		LeaderElection:          o.LeaderElection,
		LeaderElectionID:        d.ShortName() + "-controller." + d.Name,
		LeaderElectionNamespace: o.LeaderElectionNS,
	})
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}
	store, err := controller.NewStore(ctx, mgr.GetClient(), mgr.GetCache(), d.Name)
	if err != nil {
		return err
	}
	ctl := csi.NewController(d, store, controller.NewNodeCapacity(mgr.GetClient(), d))
	ready := func() error {
		if !mgr.GetCache().WaitForCacheSync(ctx) {
			return fmt.Errorf("cache not synced")
		}
		return nil
	}
	id := csi.NewIdentity(d.Name, true, ready)
	if err := mgr.Add(everyReplica(func(ctx context.Context) error {
		return csi.Serve(ctx, o.CSISocket, id, ctl, nil, log.WithName("csi"))
	})); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("cache", func(*http.Request) error { return ready() }); err != nil {
		return err
	}
	return mgr.Start(ctx)
}

// everyReplica is a runnable that runs whether or not this replica leads:
// the CSI sidecars of every replica talk to their own controller.
type everyReplica func(ctx context.Context) error

func (r everyReplica) Start(ctx context.Context) error { return r(ctx) }
func (r everyReplica) NeedLeaderElection() bool        { return false }
