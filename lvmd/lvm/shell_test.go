package lvm

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/toposuite/toposuite/internal/exec"
	"github.com/toposuite/toposuite/internal/exec/exectest"
	"github.com/toposuite/toposuite/internal/storage"
)

// split is lvm_split, the shell's line splitter, as LVM 2.03 has it: words
// at white space, a word that starts with a quote runs to the next such
// quote, a word that starts with # ends the line.
func split(line string) []string {
	var out []string
	for {
		line = strings.TrimLeft(line, " \t\v\f")
		if line == "" || line[0] == '#' {
			return out
		}
		end := func(r rune) bool { return strings.ContainsRune(" \t\v\f", r) }
		if q := line[0]; q == '"' || q == '\'' {
			line = line[1:]
			end = func(r rune) bool { return r == rune(q) }
		}
		i := strings.IndexFunc(line, end)
		if i < 0 {
			return append(out, line)
		}
		out = append(out, line[:i])
		line = line[i+1:]
	}
}

func TestShellLineSurvivesTheShellsSplitter(t *testing.T) {
	for _, args := range [][]string{
		{"lvremove", "-y", "-S", "lv_name=a && lv_tags=toposuite.io/class=ssd", "vg"},
		{"lvcreate", "-n", "#notacomment", "--addtag", "", "vg"},
		{"lvs", `-S`, `lv_name="a b"`, "'quoted'", "x'y"},
	} {
		if !shellable(args) {
			t.Fatalf("%q: not shellable", args)
		}
		if got := split(shellLine(args)); !slices.Equal(got, args) {
			t.Errorf("%q: the shell reads %q", args, got)
		}
	}
}

func TestShellableRefusesWhatTheShellCannotCarry(t *testing.T) {
	for name, args := range map[string][]string{
		"may ask on stdin":  {"pvcreate", "/dev/loop0"},
		"prints no report":  {"config", "--typeconfig", "full"},
		"newline":           {"lvs", "a\nb"},
		"both quotes":       {"lvs", `a"b'c`},
		"too many words":    append([]string{"lvs"}, make([]string, maxShellArgs)...),
		"no command at all": {},
	} {
		if shellable(args) {
			t.Errorf("%s: %q is shellable", name, args)
		}
	}
}

// fakeLVM is a named fake of lvm's shell mode, for what a real lvm will not
// do on demand (die mid-command, lose its status, hang): a shell script that
// reads command lines and writes one JSON document a line on fd 3.
const fakeLVM = `#!/bin/sh
echo started >> "$STARTS"
while read -r cmd rest; do
  case "$cmd $rest" in
    lastlog*) printf '{"log":[{"log_type":"print","log_context":"processing","log_message":"done"},{"log_type":"error","log_context":"processing","log_message":"Volume group \\"x\\" not found"}]}\n' >&3 ;;
    "vgs die"*) exit 1 ;;
    "vgs hang"*) sleep 30 ;;
    "vgs mute"*) printf '{"log":[]}\n' >&3 ;;
    vgs*) printf '{"report":[{"vg":[{"vg_name":"a b","vg_size":"8","vg_free":"4","vg_extent_size":"4"}]}],"log":[{"log_type":"status","log_context":"shell","log_ret_code":"1"}]}\n' >&3 ;;
    lvremove*) printf '{"log":[{"log_type":"status","log_context":"shell","log_ret_code":"5"}]}\n' >&3 ;;
  esac
done
`

func fakeShell(t *testing.T, fallback exec.Runner) (*Shell, func() int) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "lvm")
	if err := os.WriteFile(bin, []byte(fakeLVM), 0o755); err != nil {
		t.Fatal(err)
	}
	starts := filepath.Join(dir, "starts")
	sh := NewShell(exec.NewLocal(exec.Options{Env: []string{"STARTS=" + starts}}), fallback,
		ShellOptions{Path: bin, Profile: "p", Processes: 2, Log: logr.Discard()})
	t.Cleanup(sh.Close)
	count := func() int {
		b, _ := os.ReadFile(starts)
		return strings.Count(string(b), "started")
	}
	return sh, count
}

func TestShellAnswersLikeAProcess(t *testing.T) {
	sh, starts := fakeShell(t, exectest.New(t))
	ctx := context.Background()
	for range 3 {
		res, err := sh.Run(ctx, sh.path, "vgs", "-o", "vg_name")
		if err != nil {
			t.Fatal(err)
		}
		r, err := ParseReport(res.Stdout)
		if err != nil || len(r.VGs) != 1 || r.VGs[0].Name != "a b" {
			t.Fatalf("report %+v, %v from %s", r, err, res.Stdout)
		}
	}
	if n := starts(); n != 1 {
		t.Errorf("%d shells started for three commands in a row, want 1", n)
	}
	_, err := sh.Run(ctx, sh.path, "lvremove", "-y", "x/y")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode != 5 || !strings.Contains(string(ee.Stderr), `Volume group "x" not found`) || string(ee.Stdout) != "done\n" {
		t.Fatalf("err = %#v, want exit code 5 with the error on stderr and the printed line on stdout", err)
	}
	if got := classify(err); !errors.Is(got, storage.ErrNotFound) {
		t.Errorf("classify(%v) = %v, want NotFound", err, got)
	}
}

func TestShellReplacesAShellThatDied(t *testing.T) {
	sh, starts := fakeShell(t, exectest.New(t))
	ctx := context.Background()
	var pe *protocolError
	if _, err := sh.Run(ctx, sh.path, "vgs", "die"); !errors.As(err, &pe) {
		t.Fatalf("err = %v, want a protocol error", err)
	}
	if _, err := sh.Run(ctx, sh.path, "vgs", "mute"); !errors.As(err, &pe) || !strings.Contains(err.Error(), "no status") {
		t.Fatalf("err = %v, want no status", err)
	}
	if _, err := sh.Run(ctx, sh.path, "vgs"); err != nil {
		t.Fatal(err)
	}
	if n := starts(); n != 3 {
		t.Errorf("%d shells started, want 3 (each broken one replaced)", n)
	}
}

func TestShellKillsAShellWhoseCommandTimesOut(t *testing.T) {
	sh, starts := fakeShell(t, exectest.New(t))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := sh.Run(ctx, sh.path, "vgs", "hang"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the deadline", err)
	}
	if _, err := sh.Run(context.Background(), sh.path, "vgs"); err != nil {
		t.Fatal(err)
	}
	if n := starts(); n != 2 {
		t.Errorf("%d shells started, want 2", n)
	}
}

func TestShellSendsOtherCommandsToTheFallback(t *testing.T) {
	script := exectest.New(t,
		exectest.Step{Cmd: "lvm-elsewhere pvcreate /dev/loop9", Stdout: "ok"},
	)
	sh, starts := fakeShell(t, script)
	sh.path = "lvm-elsewhere"
	if res, err := sh.Run(context.Background(), "lvm-elsewhere", "pvcreate", "/dev/loop9"); err != nil || string(res.Stdout) != "ok" {
		t.Fatalf("%q %v", res.Stdout, err)
	}
	if n := starts(); n != 0 {
		t.Errorf("%d shells started for a command that may ask on stdin", n)
	}
}

func TestShellProbeTurnsTheShellOff(t *testing.T) {
	script := exectest.New(t, exectest.Step{Cmd: "/nonexistent/lvm vgs -o vg_name", Stdout: `{"report":[]}`})
	sh := NewShell(exec.NewLocal(exec.Options{}), script, ShellOptions{Path: "/nonexistent/lvm", Profile: "p", Processes: 1, Log: logr.Discard()})
	if err := sh.Probe(context.Background()); err == nil {
		t.Fatal("a shell that cannot start passed the probe")
	}
	if _, err := sh.Run(context.Background(), "/nonexistent/lvm", "vgs", "-o", "vg_name"); err != nil {
		t.Fatalf("after a failed probe the fallback runs the command: %v", err)
	}
}

func TestShellFallsBackWhenAShellStopsStarting(t *testing.T) {
	script := exectest.New(t)
	sh, starts := fakeShell(t, script)
	script.Add(exectest.Step{Cmd: exec.CommandLine(sh.path, "vgs", "-o", "vg_name"), Stdout: `{"report":[]}`})
	if err := sh.Probe(context.Background()); err != nil {
		t.Fatal(err)
	}
	sh.Close()
	if err := os.Chmod(sh.path, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := sh.Run(context.Background(), sh.path, "vgs", "-o", "vg_name")
	if err != nil || string(res.Stdout) != `{"report":[]}` {
		t.Fatalf("%q %v: want the command run as a process", res.Stdout, err)
	}
	if n := starts(); n != 1 {
		t.Errorf("%d shells started, want only the probe's", n)
	}
}
