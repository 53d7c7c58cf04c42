package exectest

import (
	"context"
	"testing"

	"github.com/toposuite/toposuite/internal/exec"
)

func TestScriptReplays(t *testing.T) {
	s := New(t,
		Step{Cmd: "lvm lvs vg0", Stdout: "out"},
		Step{Cmd: "lvm lvremove vg0/x", ExitCode: 5, Stderr: "nope"},
	)
	res, err := s.Run(context.Background(), "lvm", "lvs", "vg0")
	if err != nil || string(res.Stdout) != "out" {
		t.Fatalf("got %q, %v", res.Stdout, err)
	}
	_, err = s.Run(context.Background(), "lvm", "lvremove", "vg0/x")
	if exec.ExitCode(err) != 5 {
		t.Fatalf("err = %v, want exit 5", err)
	}
}

func TestScriptUnexpectedCommandFails(t *testing.T) {
	ft := &testing.T{}
	s := &Script{t: ft}
	s.Add(Step{Cmd: "a"})
	if _, err := s.Run(context.Background(), "b"); err == nil {
		t.Fatal("unexpected command accepted")
	}
	if !ft.Failed() {
		t.Fatal("unexpected command did not fail the test")
	}
}
