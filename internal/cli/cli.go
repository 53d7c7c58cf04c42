// Package cli holds what every TopoSuite command line shares: the root
// command shape, `--version`, the logging flags and the message of binaries
// whose issue has not landed yet.
package cli

import (
	"context"
	"fmt"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"

	"github.com/toposuite/toposuite/internal/logging"
	"github.com/toposuite/toposuite/internal/version"
)

// LogFlags are the logging flags every binary accepts.
type LogFlags struct {
	Options logging.Options
}

// Register adds --log-format and --log-level to cmd's persistent flags.
func (f *LogFlags) Register(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&f.Options.Format, "log-format", "json", "log format: json or text")
	cmd.PersistentFlags().StringVar(&f.Options.Level, "log-level", "info", "log level: debug, info, warn or error")
}

// Logger builds the logger the flags ask for, writing to the command's stderr.
func (f *LogFlags) Logger(cmd *cobra.Command) (logr.Logger, error) {
	return logging.New(cmd.ErrOrStderr(), f.Options)
}

// NewRoot returns a root command with the suite's conventions: `--version`
// prints the build identity, errors are printed once by Execute, and usage is
// not dumped on run-time errors.
func NewRoot(use, short, long string) *cobra.Command {
	cmd := &cobra.Command{
		Use:           use,
		Short:         short,
		Long:          long,
		Version:       version.Get().String(),
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
	}
	cmd.SetVersionTemplate(use + " {{.Version}}\n")
	return cmd
}

// Execute runs cmd with a context that is cancelled on SIGINT/SIGTERM and
// returns the process exit code: 0 on success, 1 on error (printed to stderr).
func Execute(cmd *cobra.Command) int {
	ctx, stop := signalContext()
	defer stop()
	if err := cmd.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "%s: %v\n", cmd.Name(), err)
		return 1
	}
	return 0
}

// ContextOrBackground returns the command's context, which cobra leaves nil
// when a command is run without ExecuteContext (as in tests).
func ContextOrBackground(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}
