package vm

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/toposuite/toposuite/internal/exec"
)

// GoTestOptions describe a Go test binary run in the VM.
type GoTestOptions struct {
	Options
	// Tags are the build tags, comma-separated (go test -tags).
	Tags string
	// Skip is passed as -test.skip: tests matching it do not run.
	Skip string
	// Env holds KEY=VALUE entries for the test binary's environment.
	Env []string
}

// GoTestResult is what the tests in the VM did.
type GoTestResult struct {
	Result
	// Passed, Failed and Skipped name the tests (and subtests) by outcome,
	// from their "--- PASS/FAIL/SKIP" lines, in order.
	Passed, Failed, Skipped []string
}

var outcomeRE = regexp.MustCompile(`^\s*--- (PASS|FAIL|SKIP): (\S+)`)

// RunGoTest builds the test binary of pkg (a package pattern as go test
// takes it, relative to the test's directory) statically, with
// CGO_ENABLED=0, runs the tests matching run in the VM with -test.v, and
// fails the test, with the VM's console attached, when a test in the VM
// fails, the binary exits non-zero or no test passed. Progress (which test
// runs, each outcome) goes to t.Log as it comes, and the names of the tests
// that passed and were skipped at the end. In the guest itself (the same
// test binary runs there) it skips the calling test.
func RunGoTest(t *testing.T, pkg, run string, o GoTestOptions) GoTestResult {
	t.Helper()
	Require(t) // before a long build
	bin := filepath.Join(t.TempDir(), "pkg.test")
	buildStart := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	build := exec.NewLocal(exec.Options{Env: []string{"CGO_ENABLED=0"}})
	if _, err := build.Run(ctx, "go", "test", "-c", "-o", bin, "-tags", o.Tags, pkg); err != nil {
		t.Fatalf("VM lane: build the test binary of %s: %v", pkg, err)
	}
	t.Logf("VM lane: built the test binary of %s in %v", pkg, time.Since(buildStart).Round(100*time.Millisecond))

	o.Options.defaults()
	if o.Files == nil {
		o.Files = map[string]string{}
	}
	o.Files["/toposuite/pkg.test"] = bin
	// The binary's own timeout comes before the VM's, so that a hung test
	// ends with Go's goroutine dump on the console rather than a kill.
	args := []string{"-test.v", "-test.run", run, "-test.timeout", (o.Timeout * 9 / 10).String()}
	if o.Skip != "" {
		args = append(args, "-test.skip", o.Skip)
	}
	var cmd strings.Builder
	cmd.WriteString("cd /toposuite && exec")
	if len(o.Env) > 0 {
		cmd.WriteString(" env")
		for _, e := range o.Env {
			cmd.WriteString(" " + exec.CommandLine(e))
		}
	}
	cmd.WriteString(" " + exec.CommandLine("./pkg.test", args...) + " 2>&1")
	o.Command = cmd.String()
	o.Progress = func(line string) {
		switch {
		case strings.HasPrefix(line, readyMarker):
			t.Logf("VM lane: guest up (%s)", line)
		case strings.HasPrefix(line, "=== RUN"), outcomeRE.MatchString(line):
			t.Logf("VM lane: %s", strings.TrimSpace(line))
		}
	}

	r := GoTestResult{Result: Run(t, o.Options)}
	for _, line := range strings.Split(r.Output, "\n") {
		m := outcomeRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		switch m[1] {
		case "PASS":
			r.Passed = append(r.Passed, m[2])
		case "FAIL":
			r.Failed = append(r.Failed, m[2])
		case "SKIP":
			r.Skipped = append(r.Skipped, m[2])
		}
	}
	t.Logf("VM lane: boot %v, whole run %v; %d passed, %d failed, %d skipped",
		r.Boot.Round(100*time.Millisecond), r.Elapsed.Round(100*time.Millisecond), len(r.Passed), len(r.Failed), len(r.Skipped))
	t.Logf("in the VM: passed %s", strings.Join(r.Passed, " "))
	if len(r.Skipped) > 0 {
		t.Logf("in the VM: skipped %s", strings.Join(r.Skipped, " "))
	}
	var why []string
	if r.ExitCode != 0 {
		why = append(why, fmt.Sprintf("the test binary exited %d", r.ExitCode))
	}
	if len(r.Failed) > 0 {
		why = append(why, "failed: "+strings.Join(r.Failed, ", "))
	}
	if len(r.Passed) == 0 {
		why = append(why, "no test passed")
	}
	if len(why) > 0 {
		t.Errorf("VM lane: %s; console:\n%s", strings.Join(why, "; "), r.Output)
	}
	return r
}
