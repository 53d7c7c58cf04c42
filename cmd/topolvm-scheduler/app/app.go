// Package app builds the topolvm-scheduler command.
package app

import (
	"github.com/spf13/cobra"

	"github.com/toposuite/toposuite/internal/cli"
)

// NewCommand returns the topolvm-scheduler root command. The binary exists so that the
// suite's layout and packaging are complete; it does nothing until issue #6 (scheduler extender) lands.
func NewCommand() *cobra.Command {
	return cli.NotYetAvailable("topolvm-scheduler", "kube-scheduler extender that places pods where the capacity is", "issue #6 (scheduler extender)")
}
