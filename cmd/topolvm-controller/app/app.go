// Package app builds the topolvm-controller command.
package app

import (
	"github.com/spf13/cobra"

	"github.com/toposuite/toposuite/internal/cli"
)

// NewCommand returns the topolvm-controller root command. The binary exists so that the
// suite's layout and packaging are complete; it does nothing until issue #4 (CSI drivers) lands.
func NewCommand() *cobra.Command {
	return cli.NotYetAvailable("topolvm-controller", "CSI controller service for topolvm.io and topols.io", "issue #4 (CSI drivers)")
}
