// Package exec is the one way TopoSuite runs external commands.
//
// Every command runs with a context (cancelling it kills the process), with
// LC_ALL=C so that output and error texts are the ones parsers expect, with an
// optional prefix (for example `nsenter -t 1 -m -u -i -n -p --` to run in the
// host's namespaces from a container), and with stdout and stderr kept apart:
// LVM prints warnings on stderr even on success, parsers read stdout only.
// Failures come back as *ExitError carrying the exit code and stderr.
//
// Nothing else in the module imports os/exec.
package exec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"strings"
	"syscall"
	"time"
)

// Runner runs one command and returns its stdout. On failure the error is an
// *ExitError (the command ran and failed), wraps ErrNotFound (the program is
// missing), or wraps the context's error (timeout or cancellation).
type Runner interface {
	Run(ctx context.Context, name string, args ...string) (Result, error)
}

// Result is what a successful command printed.
type Result struct {
	Stdout []byte
	Stderr []byte
}

// ErrNotFound is wrapped when the program does not exist.
var ErrNotFound = osexec.ErrNotFound

// ExitError is a command that ran and exited non-zero (or was killed).
type ExitError struct {
	// Command is the command line as run, prefix included, for messages.
	Command string
	// ExitCode is the process exit code, or -1 when it was killed by a signal.
	ExitCode int
	Stdout   []byte
	Stderr   []byte
}

func (e *ExitError) Error() string {
	msg := strings.TrimSpace(string(e.Stderr))
	if msg == "" {
		msg = "(no output on stderr)"
	}
	return fmt.Sprintf("%s: exit code %d: %s", e.Command, e.ExitCode, msg)
}

// Options configure a Local runner.
type Options struct {
	// Prefix is prepended to every command line, e.g. an nsenter invocation.
	Prefix []string
	// Env holds extra KEY=VALUE entries on top of the process environment
	// (e.g. LVM_SYSTEM_DIR). LC_ALL=C is always set last and wins.
	Env []string
	// Timeout bounds every command; zero means only the caller's context does.
	Timeout time.Duration
}

// Local runs commands on this machine.
type Local struct {
	opts Options
	env  []string
}

// NewLocal returns a runner with the given options.
func NewLocal(o Options) *Local {
	env := append(append(os.Environ(), o.Env...), "LC_ALL=C")
	return &Local{opts: o, env: env}
}

// Run implements Runner.
func (l *Local) Run(ctx context.Context, name string, args ...string) (Result, error) {
	if l.opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, l.opts.Timeout)
		defer cancel()
	}
	argv := append(append(append([]string{}, l.opts.Prefix...), name), args...)
	cmd := osexec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = l.env
	// Kill the whole process group on cancellation so that helpers forked by
	// the command (nsenter's child) do not outlive it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := cmd.Run()
	res := Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	if err == nil {
		return res, nil
	}
	line := CommandLine(argv[0], argv[1:]...)
	if ctxErr := ctx.Err(); ctxErr != nil {
		return res, fmt.Errorf("%s: %w", line, ctxErr)
	}
	var exitErr *osexec.ExitError
	if errors.As(err, &exitErr) {
		return res, &ExitError{Command: line, ExitCode: exitErr.ExitCode(), Stdout: res.Stdout, Stderr: res.Stderr}
	}
	return res, fmt.Errorf("%s: %w", line, err)
}

// CommandLine renders a command as a shell would read it, quoting arguments
// that need it. It is used in messages and as the key of scripted runs.
func CommandLine(name string, args ...string) string {
	var b strings.Builder
	b.WriteString(quote(name))
	for _, a := range args {
		b.WriteByte(' ')
		b.WriteString(quote(a))
	}
	return b.String()
}

func quote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`*?[]{}()<>|&;#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ExitCode returns the exit code carried by err, or -1 when err is not an
// *ExitError (nil error: 0).
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var e *ExitError
	if errors.As(err, &e) {
		return e.ExitCode
	}
	return -1
}
