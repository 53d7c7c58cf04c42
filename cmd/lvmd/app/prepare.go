package app

import (
	"github.com/spf13/cobra"
)

func newPrepareCommand(o *Options) *cobra.Command {
	return &cobra.Command{Use: "prepare", Short: "create or extend the volume groups the config declares", Args: cobra.NoArgs}
}

func newDiscoverCommand(o *Options) *cobra.Command {
	return &cobra.Command{Use: "discover", Short: "list block devices and whether they are free to use", Args: cobra.NoArgs}
}
