package app

import (
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"

	"github.com/toposuite/toposuite/btrfsd/btrfs"
	"github.com/toposuite/toposuite/btrfsd/config"
	"github.com/toposuite/toposuite/btrfsd/prepare"
	"github.com/toposuite/toposuite/internal/cli"
	"github.com/toposuite/toposuite/internal/exec"
	"github.com/toposuite/toposuite/lvmd/lvm"
)

// preparerFunc builds the Preparer from the configuration; tests inject one
// over a scripted runner.
type preparerFunc func(cfg *config.Config, log logr.Logger) *prepare.Preparer

// localPreparer runs every command (lsblk, wipefs, lvm, findmnt, btrfs,
// mkfs.btrfs, mount) on this machine with the configuration's prefix,
// environment and timeout, and turns quotas on through the kernel. lvm is
// asked about physical volumes only to name their volume groups: without
// it, they are still refused by their signature.
func localPreparer(cfg *config.Config, log logr.Logger) *prepare.Preparer {
	var timeout time.Duration
	if cfg.Commands.Timeout != nil {
		timeout = cfg.Commands.Timeout.Duration
	}
	r := exec.NewLocal(exec.Options{Prefix: cfg.Commands.Prefix, Env: cfg.Commands.EnvList(), Timeout: timeout})
	return prepare.New(r, lvm.New(r, "lvm"), prepare.KernelQuota{SysfsRoot: btrfs.SysfsRoot}, log)
}

func newPrepareCommand(o *Options) *cobra.Command { return prepareCommand(o, localPreparer) }

func prepareCommand(o *Options, newPreparer preparerFunc) *cobra.Command {
	var (
		dryRun bool
		ro     cli.ReportOptions
	)
	cmd := &cobra.Command{
		Use:   "prepare",
		Short: "make and mount the btrfs filesystems the pools declare",
		Long: `prepare builds the btrfs filesystem of every pool with a filesystem block:
when the pool path is a mounted btrfs filesystem of the declared devices it is
left alone; when the devices hold one btrfs filesystem (all of its devices, and
only those) it is mounted at the pool path; when they are blank it makes one
(mkfs.btrfs -L topols-<pool>, with the declared profiles) and mounts it. Quotas
are turned on when they are off. Running it again changes nothing.

A device with a filesystem, a partition table or another signature is refused
unless it is listed under wipe; a mounted or used device, an LVM physical
volume, a read-only device, one smaller than minDeviceSize, or one of a btrfs
filesystem whose other devices are not all declared is always refused. A pool
with a refused device is left unchanged. Devices removed from the declaration
are never touched, and devices are never added to an existing filesystem.

The mount does not survive a reboot: run prepare again at boot (the node
plugin or a systemd unit does). The report is printed as JSON on stdout and
logged on stderr, and with --report-file written to a file too. The exit code
is non-zero when a device was refused or a command failed, unless --keep-going
is given (as the node plugin's init container does: the daemon then starts
with the pools that exist).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := o.Log.Logger(cmd)
			if err != nil {
				return err
			}
			cfg, err := o.load()
			if err != nil {
				return err
			}
			if err := prepare.Validate(cfg.Pools); err != nil {
				return fmt.Errorf("invalid config %s:\n%w", o.ConfigPath, err)
			}
			rep, err := newPreparer(cfg, log).Prepare(cli.ContextOrBackground(cmd), cfg.Pools, prepare.Options{DryRun: dryRun})
			return cli.FinishReport(cmd, log, rep, rep != nil, err, ro)
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "inspect and report what would be done without changing anything")
	ro.AddFlags(cmd.Flags())
	return cmd
}
