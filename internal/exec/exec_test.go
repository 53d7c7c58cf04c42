package exec

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestLocalSeparatesStreamsAndSetsLocale(t *testing.T) {
	r := NewLocal(Options{Env: []string{"LC_ALL=de_DE.UTF-8", "TOPO_X=1"}})
	res, err := r.Run(context.Background(), "sh", "-c", `echo "$LC_ALL $TOPO_X"; echo warn >&2`)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(res.Stdout); got != "C 1\n" {
		t.Errorf("stdout = %q, want %q (LC_ALL must be forced to C)", got, "C 1\n")
	}
	if got := string(res.Stderr); got != "warn\n" {
		t.Errorf("stderr = %q", got)
	}
}

func TestLocalExitError(t *testing.T) {
	r := NewLocal(Options{})
	_, err := r.Run(context.Background(), "sh", "-c", "echo boom >&2; exit 5")
	var ee *ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("err = %v, want *ExitError", err)
	}
	if ee.ExitCode != 5 || strings.TrimSpace(string(ee.Stderr)) != "boom" || ExitCode(err) != 5 {
		t.Errorf("got %+v", ee)
	}
	if !strings.Contains(err.Error(), "exit code 5: boom") {
		t.Errorf("message %q lacks code and stderr", err)
	}
}

func TestLocalPrefix(t *testing.T) {
	r := NewLocal(Options{Prefix: []string{"env", "TOPO_PREFIXED=yes"}})
	res, err := r.Run(context.Background(), "sh", "-c", "echo $TOPO_PREFIXED")
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Stdout) != "yes\n" {
		t.Errorf("prefix not applied: %q", res.Stdout)
	}
}

func TestLocalTimeoutKillsProcessGroup(t *testing.T) {
	r := NewLocal(Options{Timeout: 100 * time.Millisecond})
	start := time.Now()
	_, err := r.Run(context.Background(), "sh", "-c", "sleep 30 & sleep 30; wait")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("timeout did not kill the command")
	}
}

func TestLocalMissingProgram(t *testing.T) {
	_, err := NewLocal(Options{}).Run(context.Background(), "/nonexistent/toposuite-tool")
	if err == nil || ExitCode(err) != -1 {
		t.Fatalf("err = %v", err)
	}
}

func TestCommandLineQuoting(t *testing.T) {
	got := CommandLine("lvcreate", "-n", "a b", "it's", "--addtag", "x")
	want := `lvcreate -n 'a b' 'it'\''s' --addtag x`
	if got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
