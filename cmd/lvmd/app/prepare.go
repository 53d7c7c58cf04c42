package app

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/toposuite/toposuite/internal/cli"
	"github.com/toposuite/toposuite/internal/disk"
	"github.com/toposuite/toposuite/internal/exec"
	"github.com/toposuite/toposuite/lvmd/config"
	"github.com/toposuite/toposuite/lvmd/lvm"
	"github.com/toposuite/toposuite/lvmd/prepare"
)

// runnerFunc builds the command runner from the LVM settings; tests inject
// a scripted one.
type runnerFunc func(config.LVMSettings) exec.Runner

// localRunner runs commands on this machine with the settings' prefix,
// environment and timeout. prepare and discover run lsblk, wipefs and
// losetup through it as well as LVM, so that a prefix such as nsenter
// reaches the host for all of them.
func localRunner(s config.LVMSettings) exec.Runner {
	var timeout time.Duration
	if s.Timeout != nil {
		timeout = s.Timeout.Duration
	}
	return exec.NewLocal(exec.Options{Prefix: s.CommandPrefix, Env: s.EnvList(), Timeout: timeout})
}

func newPrepareCommand(o *Options) *cobra.Command { return prepareCommand(o, localRunner) }

func prepareCommand(o *Options, newRunner runnerFunc) *cobra.Command {
	var (
		dryRun bool
		ro     cli.ReportOptions
	)
	cmd := &cobra.Command{
		Use:   "prepare",
		Short: "create or extend the volume groups the config declares",
		Long: `prepare builds the volume groups declared under volumeGroups in the
configuration: it creates a missing volume group and extends an existing one
with newly declared devices; devices already in it are left alone, so running
it again changes nothing.

A device with a filesystem, a partition table or another signature is refused
unless it is listed under wipe; a mounted device, a physical volume of another
volume group, a read-only device or one smaller than minDeviceSize is always
refused. A volume group with a refused device is left unchanged. A device
removed from the declaration stays in its volume group.

The report is printed as JSON on stdout, logged on stderr, and with
--report-file written to a file too. The exit code is non-zero when a device
was refused or a command failed, unless --keep-going is given (as the chart's
init container does: lvmd then starts and serves the volume groups that exist).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := o.Log.Logger(cmd)
			if err != nil {
				return err
			}
			cfg, err := loadPrepareConfig(o)
			if err != nil {
				return err
			}
			r := newRunner(cfg.LVM)
			p := prepare.New(disk.New(r), lvm.New(r, cfg.LVM.Path), log)
			rep, err := p.Prepare(cli.ContextOrBackground(cmd), cfg.VolumeGroups, prepare.Options{DryRun: dryRun})
			return cli.FinishReport(cmd, log, rep, rep != nil, err, ro)
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "inspect and report what would be done without changing anything")
	ro.AddFlags(cmd.Flags())
	return cmd
}

// loadPrepareConfig reads the config strictly but validates only what
// prepare uses: the volume groups and the LVM settings. Full validation
// would demand device classes, whose volume groups prepare is about to
// create.
func loadPrepareConfig(o *Options) (*config.Config, error) {
	cfg, err := config.Load(o.ConfigPath)
	if err != nil {
		return nil, err
	}
	if o.LVMPath != "" {
		cfg.LVM.Path = o.LVMPath
	}
	if err := errors.Join(prepare.Validate(cfg.VolumeGroups), checkLVMSettings(cfg.LVM)); err != nil {
		return nil, fmt.Errorf("invalid config %s:\n%w", o.ConfigPath, err)
	}
	return cfg, nil
}

// checkLVMSettings checks the settings every command runs with.
func checkLVMSettings(s config.LVMSettings) error {
	var errs []error
	if s.Path == "" {
		errs = append(errs, errors.New("lvm.path: required"))
	}
	if s.Timeout != nil && s.Timeout.Duration <= 0 {
		errs = append(errs, errors.New("lvm.timeout: must be positive"))
	}
	for k := range s.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			errs = append(errs, fmt.Errorf("lvm.env: %q is not a variable name", k))
		}
	}
	return errors.Join(errs...)
}
