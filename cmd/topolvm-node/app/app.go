// Package app builds the topolvm-node command.
package app

import (
	"context"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	mount "k8s.io/mount-utils"
	utilexec "k8s.io/utils/exec"

	"github.com/toposuite/toposuite/csi"
	"github.com/toposuite/toposuite/internal/daemon"
	"github.com/toposuite/toposuite/internal/nodeplugin"
	"github.com/toposuite/toposuite/lvmd"
	"github.com/toposuite/toposuite/lvmd/config"
)

// NewCommand returns the topolvm-node command.
func NewCommand() *cobra.Command {
	return nodeplugin.NewCommand(nodeplugin.Binary{
		Use: "topolvm-node", Short: "TopoLVM's CSI node plugin: LVM volumes through lvmd",
		Long: `topolvm-node serves the CSI Node service of TopoLVM, makes the LogicalVolumes
of its node real through lvmd (remote over --lvmd-socket, or embedded with
--lvmd-config), and publishes the node's capacity as Node annotations.`,
		MetricNames:   lvmd.MetricNames,
		DefaultDriver: "topolvm.io", Daemon: "lvmd", Profile: csi.LVMDriver,
		Publisher: func() csi.Publisher {
			return csi.NewDevicePublisher(&mount.SafeFormatAndMount{Interface: mount.New(""), Exec: utilexec.New()}, "ext4")
		},
		Embed: func(path string, log logr.Logger) (func(context.Context) (*daemon.Instance, error), error) {
			cfg, err := config.Load(path)
			if err != nil {
				return nil, err
			}
			return func(ctx context.Context) (*daemon.Instance, error) { return lvmd.Start(ctx, cfg, log) }, nil
		},
	})
}
