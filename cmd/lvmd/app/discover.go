package app

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/toposuite/toposuite/internal/cli"
	"github.com/toposuite/toposuite/internal/disk"
	"github.com/toposuite/toposuite/lvmd/config"
	"github.com/toposuite/toposuite/lvmd/lvm"
)

func newDiscoverCommand(o *Options) *cobra.Command { return discoverCommand(o, localRunner) }

func discoverCommand(o *Options, newRunner runnerFunc) *cobra.Command {
	var (
		crit    disk.Criteria
		minSize string
	)
	cmd := &cobra.Command{
		Use:   "discover",
		Short: "list block devices and whether they are free to use",
		Long: `discover lists the node's block devices as JSON and says for each whether
it is free to become an LVM physical volume and, if not, why: mounted, used by
another device, partitioned, a filesystem or other signature, an LVM physical
volume, read-only, too small, or a loop device, RAM disk or optical drive
(excluded unless asked for).

It changes nothing. The configuration file is optional: only its lvm settings
(path, command prefix, environment) are used.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := o.Log.Logger(cmd)
			if err != nil {
				return err
			}
			q, err := resource.ParseQuantity(minSize)
			if err != nil || q.Sign() < 0 {
				return fmt.Errorf("--min-size %q is not a non-negative size such as 1Gi", minSize)
			}
			crit.MinSize = q.Value()
			cfg, err := loadDiscoverConfig(o, cmd.Flags().Changed("config"))
			if err != nil {
				return err
			}
			r := newRunner(cfg.LVM)
			inv, err := disk.New(r).Discover(cli.ContextOrBackground(cmd), crit, lvm.New(r, cfg.LVM.Path))
			if err != nil {
				return err
			}
			for _, w := range inv.Warnings {
				log.Info("warning", "message", w)
			}
			free := 0
			for _, d := range inv.Devices {
				if d.Free {
					free++
				}
			}
			log.Info("discovered block devices", "devices", len(inv.Devices), "free", free)
			return cli.WriteJSON(cmd.OutOrStdout(), inv)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&crit.IncludeLoop, "include-loop", false, "consider loop devices as candidates")
	f.BoolVar(&crit.IncludeRAM, "include-ram", false, "consider RAM disks (ram, zram) as candidates")
	f.BoolVar(&crit.IncludeROM, "include-rom", false, "consider optical drives as candidates")
	f.StringVar(&minSize, "min-size", "1Gi", "smallest size of a free device")
	return cmd
}

// loadDiscoverConfig reads the config for its LVM settings. discover runs
// on nodes that have no config yet, so a missing file at the default path
// means defaults; a file named with --config must exist.
func loadDiscoverConfig(o *Options, explicit bool) (*config.Config, error) {
	cfg, err := config.Load(o.ConfigPath)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		cfg, err = &config.Config{}, nil
		cfg.Default()
	}
	if err != nil {
		return nil, err
	}
	if o.LVMPath != "" {
		cfg.LVM.Path = o.LVMPath
	}
	if err := checkLVMSettings(cfg.LVM); err != nil {
		return nil, fmt.Errorf("invalid config %s:\n%w", o.ConfigPath, err)
	}
	return cfg, nil
}
