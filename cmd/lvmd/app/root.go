// Package app builds the lvmd command: serve (the default), prepare and discover.
package app

import (
	"context"
	"fmt"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"

	"github.com/toposuite/toposuite/internal/cli"
	"github.com/toposuite/toposuite/internal/daemon"
	"github.com/toposuite/toposuite/lvmd"
	"github.com/toposuite/toposuite/lvmd/config"
)

// Options are lvmd's command-line settings; set flags override the file.
type Options struct {
	ConfigPath string
	LVMPath    string
	Daemon     daemon.Flags
	Log        cli.LogFlags
}

// RunFunc runs the daemon; tests inject their own.
type RunFunc func(ctx context.Context, cfg *config.Config, log logr.Logger) error

// NewCommand returns the lvmd command serving with Run.
func NewCommand() *cobra.Command { return newCommand(Run) }

func newCommand(run RunFunc) *cobra.Command {
	o := &Options{}
	cmd := cli.NewRoot("lvmd", "TopoLVM's LVM daemon: serves the storage daemon API on a unix socket",
		`lvmd is the only program of TopoLVM that runs LVM. It serves the storage
daemon API (create, resize, snapshot, remove and list logical volumes, and a
capacity Watch stream) over gRPC on a unix socket.

Subcommands prepare volume groups from disks and discover free disks.
See docs/lvmd.md for the configuration file.`)
	o.Log.Register(cmd)
	cmd.PersistentFlags().StringVar(&o.ConfigPath, "config", "/etc/topolvm/lvmd.yaml", "configuration file")
	o.Daemon.Register(cmd.Flags())
	cmd.PersistentFlags().StringVar(&o.LVMPath, "lvm-path", "", "path of the lvm binary (overrides lvm.path)")
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
	cmd.AddCommand(newPrepareCommand(o), newDiscoverCommand(o))
	return cmd
}

// load reads the config file and lays the flags that were set over it.
func (o *Options) load() (*config.Config, error) {
	cfg, err := config.Load(o.ConfigPath)
	if err != nil {
		return nil, err
	}
	o.Daemon.Apply(&cfg.Settings)
	if o.LVMPath != "" {
		cfg.LVM.Path = o.LVMPath
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config %s:\n%w", o.ConfigPath, err)
	}
	return cfg, nil
}

// Run serves lvmd until ctx ends.
func Run(ctx context.Context, cfg *config.Config, log logr.Logger) error {
	inst, err := lvmd.Start(ctx, cfg, log)
	if err != nil {
		return err
	}
	return inst.Run(ctx, cfg.ServeOptions(lvmd.MetricNames))
}
