package cli_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	btrfsd "github.com/toposuite/toposuite/cmd/btrfsd/app"
	lvmd "github.com/toposuite/toposuite/cmd/lvmd/app"
	topolsnode "github.com/toposuite/toposuite/cmd/topols-node/app"
	controller "github.com/toposuite/toposuite/cmd/topolvm-controller/app"
	node "github.com/toposuite/toposuite/cmd/topolvm-node/app"
	operator "github.com/toposuite/toposuite/cmd/topolvm-operator/app"
	scheduler "github.com/toposuite/toposuite/cmd/topolvm-scheduler/app"
	"github.com/toposuite/toposuite/internal/cli"
)

var binaries = map[string]func() *cobra.Command{
	"lvmd":               lvmd.NewCommand,
	"btrfsd":             btrfsd.NewCommand,
	"topolvm-controller": controller.NewCommand,
	"topolvm-node":       node.NewCommand,
	"topols-node":        topolsnode.NewCommand,
	"topolvm-scheduler":  scheduler.NewCommand,
	"topolvm-operator":   operator.NewCommand,
}

func run(cmd *cobra.Command, args ...string) (string, int) {
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	code := cli.Execute(cmd)
	return out.String(), code
}

func TestEveryBinaryHasVersionAndHelp(t *testing.T) {
	for name, build := range binaries {
		out, code := run(build(), "--version")
		if code != 0 || !strings.HasPrefix(out, name+" version ") || !strings.Contains(out, "commit") || !strings.Contains(out, "go1.") {
			t.Errorf("%s --version: code %d, output %q", name, code, out)
		}
		out, code = run(build(), "--help")
		if code != 0 || !strings.Contains(out, "Usage:") || !strings.Contains(out, "--log-level") {
			t.Errorf("%s --help: code %d, output %q", name, code, out)
		}
	}
}
