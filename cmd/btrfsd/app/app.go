// Package app builds the btrfsd command.
package app

import (
	"github.com/spf13/cobra"

	"github.com/toposuite/toposuite/internal/cli"
)

// NewCommand returns the btrfsd root command. The binary exists so that the
// suite's layout and packaging are complete; it does nothing until issue #3 (btrfsd) lands.
func NewCommand() *cobra.Command {
	return cli.NotYetAvailable("btrfsd", "btrfs storage daemon of TopoLS (the lvmd API over btrfs subvolumes)", "issue #3 (btrfsd)")
}
