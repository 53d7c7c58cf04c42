// Package app builds the btrfsd command: serve (the default) and prepare.
package app

import (
	"context"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/toposuite/toposuite/btrfsd"
	"github.com/toposuite/toposuite/btrfsd/config"
	"github.com/toposuite/toposuite/internal/cli"
	"github.com/toposuite/toposuite/internal/daemon"
)

// Options are btrfsd's command-line settings; set flags override the file.
type Options struct {
	ConfigPath     string
	SocketName     string
	NodeName       string
	MetricsAddress string
	PollInterval   time.Duration
	Log            cli.LogFlags
}

// RunFunc runs the daemon; tests inject their own.
type RunFunc func(ctx context.Context, cfg *config.Config, log logr.Logger) error

// NewCommand returns the btrfsd command serving with Run.
func NewCommand() *cobra.Command { return newCommand(Run) }

func newCommand(run RunFunc) *cobra.Command {
	o := &Options{}
	cmd := cli.NewRoot("btrfsd", "TopoLS's btrfs daemon: serves the storage daemon API on a unix socket",
		`btrfsd serves the storage daemon API (the same API as lvmd) over btrfs:
volumes are subvolumes limited by quota groups, created, snapshotted and
deleted with ioctls. topols-node embeds it; this binary runs it standalone.
See docs/btrfsd.md for the configuration file.`)
	o.Log.Register(cmd)
	cmd.PersistentFlags().StringVar(&o.ConfigPath, "config", "/etc/topols/btrfsd.yaml", "configuration file")
	f := cmd.Flags()
	f.StringVar(&o.SocketName, "socket", "", "unix socket to serve on (overrides socketName)")
	f.StringVar(&o.NodeName, "node-name", "", "node name for metrics labels (overrides nodeName)")
	f.StringVar(&o.MetricsAddress, "metrics-address", "", "address of /metrics, /healthz and /readyz (overrides metricsAddress)")
	f.DurationVar(&o.PollInterval, "poll-interval", 0, "how often pools are read for outside changes (overrides pollInterval)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		log, err := o.Log.Logger(cmd)
		if err != nil {
			return err
		}
		cfg, err := o.load(cmd.Flags())
		if err != nil {
			return err
		}
		return run(cli.ContextOrBackground(cmd), cfg, log)
	}
	return cmd
}

func (o *Options) load(flags *pflag.FlagSet) (*config.Config, error) {
	cfg, err := config.Load(o.ConfigPath)
	if err != nil {
		return nil, err
	}
	if o.SocketName != "" {
		cfg.SocketName = o.SocketName
	}
	if o.NodeName != "" {
		cfg.NodeName = o.NodeName
	}
	if o.MetricsAddress != "" {
		cfg.MetricsAddress = o.MetricsAddress
	}
	if flags.Changed("poll-interval") {
		cfg.PollInterval = &metav1.Duration{Duration: o.PollInterval}
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config %s:\n%w", o.ConfigPath, err)
	}
	return cfg, nil
}

// Run serves btrfsd until ctx ends.
func Run(ctx context.Context, cfg *config.Config, log logr.Logger) error {
	inst, err := btrfsd.Start(ctx, cfg, log)
	if err != nil {
		return err
	}
	return inst.Run(ctx, daemon.ServeOptions{
		Socket: cfg.SocketName, MetricsAddress: cfg.MetricsAddress, NodeName: cfg.NodeName, MetricNames: btrfsd.MetricNames,
	})
}
