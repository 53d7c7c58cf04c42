package app

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/go-logr/logr"
)

func TestAgentCommand(t *testing.T) {
	t.Setenv("NODE_NAME", "node-1")
	t.Setenv("POD_NAMESPACE", "topolvm-system")
	var got *AgentOptions
	cmd := newAgentCommand(func(_ context.Context, o *AgentOptions, _ logr.Logger) error { got = o; return nil })
	cmd.SetErr(&bytes.Buffer{})
	cmd.SetArgs([]string{"--min-size", "10Gi", "--include-loop"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Agent.Node != "node-1" || got.Agent.Namespace != "topolvm-system" || got.Sources.Criteria.MinSize != 10<<30 ||
		!got.Sources.Criteria.IncludeLoop || got.Sources.HostRoot != "/proc/1/root" || got.CommandPrefix[0] != "nsenter" ||
		got.Sources.LVMDPrepareReport != "/run/toposuite/prepare/lvmd.json" {
		t.Errorf("options %+v", got)
	}

	for args, want := range map[string]string{
		"--node=":         "--node is required",
		"--min-size=lots": `--min-size "lots"`,
		"--interval=0s":   "must be positive",
		"--namespace=":    "--namespace is required",
	} {
		cmd := newAgentCommand(func(context.Context, *AgentOptions, logr.Logger) error { return nil })
		cmd.SetErr(&bytes.Buffer{})
		cmd.SetArgs([]string{args})
		if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", args, err, want)
		}
	}
}

// The agent runs through the operator's root command, whose flags must not
// clash with its own.
func TestAgentIsASubcommand(t *testing.T) {
	t.Setenv("NODE_NAME", "")
	cmd := NewCommand()
	cmd.SetErr(&bytes.Buffer{})
	cmd.SetArgs([]string{"agent", "--namespace=ns", "--log-format=text"})
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "--node is required") {
		t.Errorf("topolvm-operator agent without a node: err = %v", err)
	}
}
