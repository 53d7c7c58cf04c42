// Package app builds the topolvm-scheduler command.
package app

import (
	"context"
	"errors"
	"io/fs"

	"github.com/spf13/cobra"

	"github.com/toposuite/toposuite/internal/cli"
	"github.com/toposuite/toposuite/scheduler"
)

// DefaultConfigPath is read when present; without it the defaults apply.
const DefaultConfigPath = "/etc/topolvm/scheduler.yaml"

// Options are topolvm-scheduler's settings: a config file, and flags that
// override it.
type Options struct {
	ConfigPath string
	Listen     string
	Scoring    string
	Kube       cli.KubeFlags
	Log        cli.LogFlags
}

// NewCommand returns the topolvm-scheduler command.
func NewCommand() *cobra.Command { return newCommand(scheduler.Run) }

type runFunc func(context.Context, scheduler.Options) error

func newCommand(run runFunc) *cobra.Command {
	o := &Options{}
	cmd := cli.NewRoot("topolvm-scheduler", "kube-scheduler extender that places pods where the capacity is",
		`topolvm-scheduler is an HTTP scheduler extender for kube-scheduler. For pods
that need capacity of topolvm.io or topols.io (the pod webhook of
topolvm-controller marks them), its filter verb (/filter) turns down nodes
without enough free space in every device class the pod needs, and its
prioritize verb (/prioritize) scores the others (spread or binpack).

Free space is what the nodes publish minus what is promised and not yet
counted there: claims kube-scheduler placed, volumes being created, and the
pods it decided on just before, so a burst of pods is never promised the
same bytes twice. It works with nodeCacheCapable true (node names; figures
from its own Node informer) and false (full Node objects).

Also served: /healthz, /readyz, /metrics. See docs/scheduler.md.`)
	o.Log.Register(cmd)
	f := cmd.Flags()
	f.StringVar(&o.ConfigPath, "config", DefaultConfigPath, "configuration file (strict YAML; optional at the default path)")
	f.StringVar(&o.Listen, "listen", "", "address to serve on (overrides the config's listen; default "+scheduler.DefaultListen+")")
	f.StringVar(&o.Scoring, "scoring", "", "spread or binpack (overrides the config's scoring)")
	o.Kube.Register(f)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		log, err := o.Log.Logger(cmd)
		if err != nil {
			return err
		}
		cli.RouteLibraryLogs(log)
		c, err := o.config(cmd.Flags().Changed("config"))
		if err != nil {
			return err
		}
		rc, err := o.Kube.RestConfig()
		if err != nil {
			return err
		}
		return run(cli.ContextOrBackground(cmd), scheduler.Options{Config: c, RestConfig: rc, Log: log})
	}
	return cmd
}

// config loads the file (a missing file at the default path means the
// defaults), applies the flags and validates the result.
func (o *Options) config(explicit bool) (*scheduler.Config, error) {
	c, err := scheduler.LoadFile(o.ConfigPath)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		c, err = &scheduler.Config{}, nil
		c.Default()
	}
	if err != nil {
		return nil, err
	}
	if o.Listen != "" {
		c.Listen = o.Listen
	}
	if o.Scoring != "" {
		c.Scoring = o.Scoring
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}
