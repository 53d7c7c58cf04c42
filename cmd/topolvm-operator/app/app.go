// Package app builds the topolvm-operator command.
package app

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/toposuite/toposuite/internal/cli"
	"github.com/toposuite/toposuite/internal/operator/controller"
	"github.com/toposuite/toposuite/internal/scheme"
)

// DefaultNamespace is where the operator installs the suite when neither
// --namespace nor $POD_NAMESPACE says otherwise.
const DefaultNamespace = "toposuite-system"

// Options are topolvm-operator's settings.
type Options struct {
	Namespace      string
	MetricsAddress string
	HealthAddress  string
	LeaderElection bool
	Kube           cli.KubeFlags
	Log            cli.LogFlags
}

// NewCommand returns the topolvm-operator command.
func NewCommand() *cobra.Command {
	o := &Options{}
	cmd := cli.NewRoot("topolvm-operator", "operator that runs the suite from one TopolvmCluster resource",
		`topolvm-operator watches the one TopolvmCluster (named topolvm) and runs the
suite it describes: it renders the suite's own Helm charts, embedded in the
binary, with values derived from the spec (a release per driver and one per
node group, whose DaemonSet prepares that group's volume groups and pools),
applies them with server-side apply, prunes what the spec no longer asks for,
repairs drift, and reports per-node storage and conditions in the status.
Everything namespaced goes to --namespace, where the node agents also write
their reports. docs/operator.md says more.`)
	o.Log.Register(cmd)
	f := cmd.Flags()
	ns := os.Getenv("POD_NAMESPACE")
	if ns == "" {
		ns = DefaultNamespace
	}
	f.StringVar(&o.Namespace, "namespace", ns, "namespace the suite is installed into and the node reports are read from (default: $POD_NAMESPACE, else "+DefaultNamespace+")")
	f.StringVar(&o.MetricsAddress, "metrics-address", ":8080", "address of /metrics (0 disables)")
	f.StringVar(&o.HealthAddress, "health-address", ":8081", "address of /healthz and /readyz (0 disables)")
	f.BoolVar(&o.LeaderElection, "leader-election", true, "elect a leader among replicas (the lease is in --namespace)")
	o.Kube.Register(f)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error { return o.run(cli.ContextOrBackground(cmd), cmd) }
	// The node agent's DaemonSet (templates/agent.yaml) runs `topolvm-operator agent`.
	cmd.AddCommand(NewAgentCommand())
	return cmd
}

func (o *Options) run(ctx context.Context, cmd *cobra.Command) error {
	log, err := o.Log.Logger(cmd)
	if err != nil {
		return err
	}
	cli.RouteLibraryLogs(log)
	if o.Namespace == "" {
		return fmt.Errorf("--namespace is empty")
	}
	rc, err := o.Kube.RestConfig()
	if err != nil {
		return err
	}
	s, err := scheme.New()
	if err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(rc, ctrl.Options{
		Scheme:                  s,
		Logger:                  log,
		Cache:                   controller.CacheOptions(o.Namespace),
		Metrics:                 metricsserver.Options{BindAddress: o.MetricsAddress},
		HealthProbeBindAddress:  o.HealthAddress,
		LeaderElection:          o.LeaderElection,
		LeaderElectionID:        "topolvm-operator.operator.topolvm.io",
		LeaderElectionNamespace: o.Namespace,
		// The lease is given up on a clean exit so that another replica
		// takes over at once.
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return fmt.Errorf("build the manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := controller.Register(mgr, o.Namespace, ctrlmetrics.Registry, log.WithName("topolvmcluster")); err != nil {
		return err
	}
	log.Info("starting", "namespace", o.Namespace, "leaderElection", o.LeaderElection)
	return mgr.Start(ctx)
}
