// Package app builds the topolvm-scheduler command.
package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"

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
	// MaxRequestBytes is a quantity ("64Mi"); see maxRequestBytes.
	MaxRequestBytes string
	TLSCertFile     string
	TLSKeyFile      string
	TLSClientCA     string
	Kube            cli.KubeFlags
	Log             cli.LogFlags
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

Plain HTTP by default, as kube-scheduler's extender client expects;
--tls-cert-file and --tls-key-file serve HTTPS, and --tls-client-ca
answers the verbs only for kube-scheduler's client certificate. Request
bodies over --max-request-bytes are refused (HTTP 413).

Also served: /healthz, /readyz, /metrics. See docs/scheduler.md.`)
	o.Log.Register(cmd)
	f := cmd.Flags()
	f.StringVar(&o.ConfigPath, "config", DefaultConfigPath, "configuration file (strict YAML; optional at the default path)")
	f.StringVar(&o.Listen, "listen", "", "address to serve on (overrides the config's listen; default "+scheduler.DefaultListen+")")
	f.StringVar(&o.Scoring, "scoring", "", "spread or binpack (overrides the config's scoring)")
	f.StringVar(&o.MaxRequestBytes, "max-request-bytes", resource.NewQuantity(scheduler.DefaultBodyLimit, resource.BinarySI).String(),
		"largest request body accepted; larger ones get HTTP 413 (the config's maxRequestBytes stands when this flag is not given)")
	f.StringVar(&o.TLSCertFile, "tls-cert-file", "", "serve HTTPS with this certificate (PEM; reloaded when it changes; overrides the config's tls)")
	f.StringVar(&o.TLSKeyFile, "tls-key-file", "", "the key of --tls-cert-file (PEM)")
	f.StringVar(&o.TLSClientCA, "tls-client-ca", "", "with HTTPS, answer the verbs only for clients presenting a certificate signed by a CA in this PEM file (kube-scheduler's extender tlsConfig certFile)")
	o.Kube.Register(f)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		log, err := o.Log.Logger(cmd)
		if err != nil {
			return err
		}
		cli.RouteLibraryLogs(log)
		c, err := o.config(cmd.Flags().Changed("config"), cmd.Flags().Changed("max-request-bytes"))
		if err != nil {
			return err
		}
		rc, err := o.Kube.RestConfig()
		if err != nil {
			return err
		}
		return run(cli.ContextOrBackground(cmd), scheduler.Options{Config: c, RestConfig: rc, Log: log, ClientCAFile: o.TLSClientCA})
	}
	return cmd
}

// config loads the file (a missing file at the default path means the
// defaults), applies the flags and validates the result.
func (o *Options) config(explicit, maxBytesGiven bool) (*scheduler.Config, error) {
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
	// The flag, when given, wins over the file; both default to
	// scheduler.DefaultBodyLimit.
	if maxBytesGiven {
		q, err := resource.ParseQuantity(o.MaxRequestBytes)
		if err != nil || q.Sign() <= 0 {
			return nil, fmt.Errorf("--max-request-bytes %q is not a positive number of bytes", o.MaxRequestBytes)
		}
		c.MaxRequestBytes = q.Value()
	}
	if o.TLSCertFile != "" || o.TLSKeyFile != "" {
		if o.TLSCertFile == "" || o.TLSKeyFile == "" {
			return nil, errors.New("--tls-cert-file and --tls-key-file go together")
		}
		c.TLS = &scheduler.TLS{CertFile: o.TLSCertFile, KeyFile: o.TLSKeyFile}
	}
	if o.TLSClientCA != "" && c.TLS == nil {
		return nil, errors.New("--tls-client-ca needs HTTPS: give --tls-cert-file and --tls-key-file (or the config's tls)")
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}
