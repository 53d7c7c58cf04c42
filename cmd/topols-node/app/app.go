// Package app builds the topols-node command.
package app

import (
	"context"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	mount "k8s.io/mount-utils"

	"github.com/toposuite/toposuite/btrfsd"
	"github.com/toposuite/toposuite/btrfsd/config"
	"github.com/toposuite/toposuite/csi"
	"github.com/toposuite/toposuite/internal/daemon"
	"github.com/toposuite/toposuite/internal/nodeplugin"
)

// NewCommand returns the topols-node command.
func NewCommand() *cobra.Command {
	return nodeplugin.NewCommand(nodeplugin.Binary{
		Use: "topols-node", Short: "TopoLS's CSI node plugin: btrfs subvolumes through btrfsd",
		Long: `topols-node serves the CSI Node service of TopoLS, makes the LogicalVolumes
of its node real through btrfsd (embedded with --btrfsd-config, or remote over
--btrfsd-socket), and publishes the node's capacity as Node annotations.`,
		MetricNames:   btrfsd.MetricNames,
		DefaultDriver: "topols.io", Daemon: "btrfsd", Profile: csi.BtrfsDriver,
		Publisher: func() csi.Publisher { return csi.NewDirPublisher(mount.New("")) },
		Embed: func(path string, log logr.Logger) (func(context.Context) (*daemon.Instance, error), error) {
			cfg, err := config.Load(path)
			if err != nil {
				return nil, err
			}
			return func(ctx context.Context) (*daemon.Instance, error) { return btrfsd.Start(ctx, cfg, log) }, nil
		},
	})
}
