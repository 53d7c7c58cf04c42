// Package app builds the topolvm-node command.
package app

import (
	"github.com/spf13/cobra"

	"github.com/toposuite/toposuite/internal/cli"
)

// NewCommand returns the topolvm-node root command. The binary exists so that the
// suite's layout and packaging are complete; it does nothing until issue #4 (CSI drivers) lands.
func NewCommand() *cobra.Command {
	return cli.NotYetAvailable("topolvm-node", "CSI node service of TopoLVM (LVM logical volumes)", "issue #4 (CSI drivers)")
}
