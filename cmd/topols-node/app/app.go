// Package app builds the topols-node command.
package app

import (
	"github.com/spf13/cobra"

	"github.com/toposuite/toposuite/internal/cli"
)

// NewCommand returns the topols-node root command. The binary exists so that the
// suite's layout and packaging are complete; it does nothing until issue #4 (CSI drivers) lands.
func NewCommand() *cobra.Command {
	return cli.NotYetAvailable("topols-node", "CSI node service of TopoLS (btrfs subvolumes with quotas)", "issue #4 (CSI drivers)")
}
