// Package app builds the btrfsd command: serve (the default) and prepare.
package app

import (
	"context"
	"fmt"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"

	"github.com/toposuite/toposuite/btrfsd"
	"github.com/toposuite/toposuite/btrfsd/config"
	"github.com/toposuite/toposuite/internal/cli"
	"github.com/toposuite/toposuite/internal/daemon"
)

// Options are btrfsd's command-line settings; set flags override the file.
type Options struct {
	ConfigPath string
	Daemon     daemon.Flags
	Log        cli.LogFlags
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
	o.Daemon.Register(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		log, err := o.Log.Logger(cmd)
		if err != nil {
			return err
		}
		cfg, err := o.load()
		if err != nil {
			return err
		}
		return run(cli.ContextOrBackground(cmd), cfg, log)
	}
	cmd.AddCommand(newPrepareCommand(o))
	return cmd
}

func (o *Options) load() (*config.Config, error) {
	cfg, err := config.Load(o.ConfigPath)
	if err != nil {
		return nil, err
	}
	o.Daemon.Apply(&cfg.Settings)
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
	return inst.Run(ctx, cfg.ServeOptions(btrfsd.MetricNames))
}
