package lvmd

import (
	"context"

	"github.com/go-logr/logr"

	"github.com/toposuite/toposuite/internal/daemon"
	"github.com/toposuite/toposuite/internal/exec"
	"github.com/toposuite/toposuite/lvmd/config"
	"github.com/toposuite/toposuite/lvmd/devloop"
	"github.com/toposuite/toposuite/lvmd/lvm"
)

// MetricNames keeps upstream TopoLVM's metric names, so existing dashboards
// and alerts keep working.
var MetricNames = daemon.MetricNames{
	SizeBytes:           "topolvm_volumegroup_size_bytes",
	AvailableBytes:      "topolvm_volumegroup_available_bytes",
	ThinSizeBytes:       "topolvm_thinpool_size_bytes",
	ThinDataPercent:     "topolvm_thinpool_data_percent",
	ThinMetadataPercent: "topolvm_thinpool_metadata_percent",
	ThinAvailableBytes:  "topolvm_thinpool_overprovisioned_available",
}

// NewRunner returns the command runner configured by cfg.LVM: every
// command lvmd runs (LVM's and the few others) goes through it.
func NewRunner(cfg *config.Config) *exec.Local {
	return exec.NewLocal(exec.Options{Prefix: cfg.LVM.CommandPrefix, Env: cfg.LVM.EnvList(), Timeout: cfg.LVM.Timeout.Duration})
}

// NewLVMClient returns the LVM command layer configured by cfg.LVM.
func NewLVMClient(cfg *config.Config) *lvm.Client {
	return lvm.New(NewRunner(cfg), cfg.LVM.Path)
}

// Start validates cfg, connects to LVM and starts lvmd's daemon (capacity
// polling until ctx ends). Standalone lvmd serves the result on its socket;
// a node plugin embedding lvmd serves it in process. Both come through here.
func Start(ctx context.Context, cfg *config.Config, log logr.Logger) (*daemon.Instance, error) {
	run := NewRunner(cfg)
	client := lvm.New(lvmRunner(ctx, cfg, run, log), cfg.LVM.Path)
	var dev Activator
	if cfg.Activation == config.ActivationDevelopmentLoop {
		dev = devloop.New(run, client)
	}
	b, err := New(ctx, cfg, client, dev, log)
	if err != nil {
		return nil, err
	}
	return daemon.Start(ctx, b, cfg.PollInterval.Duration, log), nil
}

// lvmRunner returns the runner of the daemon's LVM commands: lvm shells
// (config.ShellSettings) unless they are turned off or do not work here,
// in which case the log says why and every command is a process.
func lvmRunner(ctx context.Context, cfg *config.Config, run *exec.Local, log logr.Logger) exec.Runner {
	n := *cfg.LVM.Shell.Processes
	if n == 0 {
		return run
	}
	sh := lvm.NewShell(run, run, lvm.ShellOptions{
		Path: cfg.LVM.Path, Profile: cfg.LVM.Shell.Profile, Processes: n, Timeout: cfg.LVM.Timeout.Duration, Log: log,
	})
	context.AfterFunc(ctx, sh.Close)
	// After a failed probe the shell runner sends every command to run.
	if err := sh.Probe(ctx); err != nil {
		log.Error(err, "LVM commands run one process each: the lvm shell does not work here", "profile", cfg.LVM.Shell.Profile)
	} else {
		log.Info("LVM commands run in lvm shells", "processes", n, "profile", cfg.LVM.Shell.Profile)
	}
	return sh
}
