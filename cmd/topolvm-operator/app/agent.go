package app

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/toposuite/toposuite/internal/cli"
	"github.com/toposuite/toposuite/internal/exec"
	"github.com/toposuite/toposuite/internal/operator/agent"
	"github.com/toposuite/toposuite/internal/scheme"
)

// AgentOptions are the node agent's command-line settings.
type AgentOptions struct {
	Agent   agent.Options
	Sources agent.Sources
	// CommandPrefix runs lsblk, wipefs and lvm in the host's namespaces.
	CommandPrefix []string
	LVMPath       string
	MinSize       string
	Timeout       time.Duration
	Kube          cli.KubeFlags
	Log           cli.LogFlags
}

// AgentRunFunc runs the agent; tests inject their own.
type AgentRunFunc func(ctx context.Context, o *AgentOptions, log logr.Logger) error

// NewAgentCommand returns `topolvm-operator agent`.
func NewAgentCommand() *cobra.Command { return newAgentCommand(RunAgent) }

func newAgentCommand(run AgentRunFunc) *cobra.Command {
	o := &AgentOptions{}
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "report a node's free devices, volume groups, btrfs pools and refused devices to the operator",
		Long: `agent runs on every node (the operator's chart makes it a DaemonSet) and
writes the node's report, a ConfigMap in the operator's namespace: the block
devices free to use, the LVM volume groups with their size, free space and
devices, the btrfs pools, and the devices lvmd prepare and btrfsd prepare
refused, with the reason, read from the reports they leave on the host.

It reports every --interval, within --file-check of a prepare run, and when
the operator asks (an annotation on the report). It changes nothing on the
node. Commands run in the host through --command-prefix (nsenter, with
hostPID), files are read under --host-root.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := o.Log.Logger(cmd)
			if err != nil {
				return err
			}
			if err := o.complete(); err != nil {
				return err
			}
			cli.RouteLibraryLogs(log)
			return run(cli.ContextOrBackground(cmd), o, log.WithValues("node", o.Agent.Node))
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Agent.Node, "node", os.Getenv("NODE_NAME"), "the node reported on (default $NODE_NAME)")
	f.StringVar(&o.Agent.Namespace, "namespace", os.Getenv("POD_NAMESPACE"), "namespace of the reports (default $POD_NAMESPACE)")
	f.DurationVar(&o.Agent.Interval, "interval", time.Minute, "time between reports when nothing changes")
	f.DurationVar(&o.Agent.FileCheck, "file-check", 2*time.Second, "how often the prepare reports are checked for changes")
	f.StringVar(&o.Sources.HostRoot, "host-root", "/proc/1/root", "the host's root directory as seen from here")
	f.StringVar(&o.Sources.LVMDPrepareReport, "lvmd-prepare-report", "/run/toposuite/prepare/lvmd.json", "host path of lvmd prepare's report (empty: none)")
	f.StringVar(&o.Sources.BtrfsdPrepareReport, "btrfsd-prepare-report", "/run/toposuite/prepare/btrfsd.json", "host path of btrfsd prepare's report (empty: none)")
	f.StringSliceVar(&o.CommandPrefix, "command-prefix", []string{"nsenter", "--target=1", "--mount", "--uts", "--ipc", "--net", "--pid", "--"}, "prefix of every command, to run it in the host")
	f.StringVar(&o.LVMPath, "lvm-path", "/sbin/lvm", "path of the lvm binary in the host")
	f.DurationVar(&o.Timeout, "command-timeout", time.Minute, "timeout of each command")
	f.BoolVar(&o.Sources.Criteria.IncludeLoop, "include-loop", false, "report free loop devices too")
	f.StringVar(&o.MinSize, "min-size", "1Gi", "smallest size of a free device")
	o.Kube.Register(f)
	o.Log.Register(cmd)
	return cmd
}

// complete checks the flags and derives what they imply.
func (o *AgentOptions) complete() error {
	if o.Agent.Node == "" {
		return fmt.Errorf("--node is required (or $NODE_NAME)")
	}
	if o.Agent.Namespace == "" {
		return fmt.Errorf("--namespace is required (or $POD_NAMESPACE)")
	}
	q, err := resource.ParseQuantity(o.MinSize)
	if err != nil || q.Sign() < 0 {
		return fmt.Errorf("--min-size %q is not a non-negative size such as 1Gi", o.MinSize)
	}
	o.Sources.Criteria.MinSize = q.Value()
	if o.Agent.Interval <= 0 || o.Agent.FileCheck <= 0 || o.Timeout <= 0 {
		return fmt.Errorf("--interval, --file-check and --command-timeout must be positive")
	}
	return nil
}

// RunAgent reports on the node until ctx ends.
func RunAgent(ctx context.Context, o *AgentOptions, log logr.Logger) error {
	cfg, err := o.Kube.RestConfig()
	if err != nil {
		return err
	}
	s, err := scheme.New()
	if err != nil {
		return err
	}
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: s})
	if err != nil {
		return err
	}
	r := exec.NewLocal(exec.Options{Prefix: o.CommandPrefix, Timeout: o.Timeout})
	log.Info("node agent starting", "namespace", o.Agent.Namespace, "interval", o.Agent.Interval)
	return agent.New(agent.NewCollector(r, o.LVMPath, o.Sources), c, o.Agent, log).Run(ctx)
}
