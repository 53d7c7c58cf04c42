// Package app builds the topolvm-operator command.
package app

import (
	"github.com/spf13/cobra"

	"github.com/toposuite/toposuite/internal/cli"
)

// NewCommand returns the topolvm-operator root command. The binary exists so that the
// suite's layout and packaging are complete; it does nothing until issue #7 (operator) lands.
func NewCommand() *cobra.Command {
	cmd := cli.NotYetAvailable("topolvm-operator", "operator that runs the suite from one TopolvmCluster resource", "issue #7 (operator)")
	// The node agent's DaemonSet runs `topolvm-operator agent` (agent.go).
	cmd.AddCommand(NewAgentCommand())
	return cmd
}
