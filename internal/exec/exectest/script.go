// Package exectest provides a scripted exec.Runner for unit tests: it replays
// exact command lines with the outputs a real program printed, and fails the
// test on any command that was not scripted or any step left unused.
//
// It is how code paths that this machine cannot run for real (LVM thin pools,
// snapshots and RAID without device-mapper) are tested: the script holds the
// exact text LVM prints for them.
package exectest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/toposuite/toposuite/internal/exec"
)

// Step is one expected command and what it prints.
type Step struct {
	// Cmd is the exact command line, as exec.CommandLine renders it.
	Cmd      string
	Stdout   string
	Stderr   string
	ExitCode int
	// Err, when set, is returned as is (e.g. a wrapped context error).
	Err error
}

// Script is a scripted runner. Steps are consumed in order unless Unordered
// is set, in which case any unused step with the same command line matches
// (for code that runs commands concurrently).
type Script struct {
	t         testing.TB
	mu        sync.Mutex
	steps     []Step
	used      []bool
	Unordered bool
	calls     []string
}

// New returns a script that checks, when the test ends, that every step ran.
func New(t testing.TB, steps ...Step) *Script {
	t.Helper()
	s := &Script{t: t}
	s.Add(steps...)
	t.Cleanup(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, st := range s.steps {
			if !s.used[i] {
				t.Errorf("scripted command never ran: %s", st.Cmd)
			}
		}
	})
	return s
}

// Add appends steps.
func (s *Script) Add(steps ...Step) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.steps = append(s.steps, steps...)
	s.used = append(s.used, make([]bool, len(steps))...)
}

// Calls returns the command lines run so far, in order.
func (s *Script) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

// Run implements exec.Runner.
func (s *Script) Run(ctx context.Context, name string, args ...string) (exec.Result, error) {
	line := exec.CommandLine(name, args...)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, line)
	idx := -1
	for i := range s.steps {
		if s.used[i] {
			continue
		}
		if s.steps[i].Cmd == line {
			idx = i
		}
		if idx >= 0 || !s.Unordered {
			break
		}
	}
	if idx < 0 {
		next := "(none left)"
		for i := range s.steps {
			if !s.used[i] {
				next = s.steps[i].Cmd
				break
			}
		}
		s.t.Errorf("unexpected command:\n  got:  %s\n  want: %s", line, next)
		return exec.Result{}, fmt.Errorf("exectest: unexpected command %q", line)
	}
	s.used[idx] = true
	st := s.steps[idx]
	res := exec.Result{Stdout: []byte(st.Stdout), Stderr: []byte(st.Stderr)}
	if st.Err != nil {
		return res, st.Err
	}
	if st.ExitCode != 0 {
		return res, &exec.ExitError{Command: line, ExitCode: st.ExitCode, Stdout: res.Stdout, Stderr: res.Stderr}
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("%s: %w", line, err)
	}
	return res, nil
}

// Lines joins command lines for readable test failures.
func Lines(cmds []string) string { return strings.Join(cmds, "\n") }
