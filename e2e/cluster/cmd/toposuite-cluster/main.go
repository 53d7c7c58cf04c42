// Command toposuite-cluster starts and tears down TopoSuite's local
// cluster (package e2e/cluster): `make demo`, `make demo-down`.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/toposuite/toposuite/e2e/cluster"
)

func main() {
	cluster.RunHelperIfAsked()
	if err := newCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func newCommand() *cobra.Command {
	var o cluster.Options
	var uo cluster.UpOptions
	root := &cobra.Command{
		Use:           "toposuite-cluster",
		Short:         "A real Kubernetes cluster on this machine (kubelets in namespaces, loop-device storage) with TopoLVM and TopoLS",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&o.Dir, "dir", "", "lab directory (default $TOPOSUITE_CLUSTER_DIR, else /var/tmp/toposuite-cluster)")
	root.PersistentFlags().StringVar(&o.ToolsBin, "tools", "", "directory of the e2e tools (default $KUBEBUILDER_ASSETS, else ~/.cache/toposuite/tools/bin)")
	root.PersistentFlags().StringVar(&o.Repo, "repo", "", "repository root (default: found above the working directory)")
	upFlags := func(c *cobra.Command) {
		c.Flags().IntVar(&o.Nodes, "nodes", 3, "number of kubelet nodes")
		c.Flags().BoolVar(&uo.KeepOnFailure, "keep-on-failure", false, "leave everything for inspection when starting fails")
	}
	up := &cobra.Command{
		Use:   "up",
		Short: "Start the cluster and install TopoLVM and TopoLS with their charts",
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := cluster.Up(signalContext(), o, uo)
			return err
		},
	}
	upFlags(up)
	up.Flags().BoolVar(&uo.NoSuite, "no-suite", false, "do not install the drivers")
	demo := &cobra.Command{
		Use:   "demo",
		Short: "up, then a PVC on each driver with a pod writing to it; the cluster stays up",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cluster.Demo(signalContext(), o, uo)
		},
	}
	upFlags(demo)
	down := &cobra.Command{
		Use:   "down",
		Short: "Tear the cluster down and remove the lab directory",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cluster.Down(context.Background(), o)
		},
	}
	nodeInit := &cobra.Command{
		Use:    "node-init CONFIG",
		Short:  "PID 1 of a node (started by up)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cluster.NodeInit(args[0])
		},
	}
	serviceProxy := &cobra.Command{
		Use:    "service-proxy",
		Short:  "The extender's service proxy (started by up, configured by its environment)",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return fmt.Errorf("started without its configuration (%s)", cluster.ServiceProxyEnv)
		},
	}
	serviceProxy.Flags().String("lab", "", "the lab directory (names the process as the cluster's)")
	root.AddCommand(up, demo, down, nodeInit, serviceProxy)
	return root
}

// signalContext ends on SIGINT or SIGTERM, so that a failed or interrupted
// up still tears down.
func signalContext() context.Context {
	ctx, _ := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	return ctx
}
