package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func buildPause(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "pause")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestExitsOnSignal: pause runs until SIGTERM or SIGINT, then exits 0.
func TestExitsOnSignal(t *testing.T) {
	bin := buildPause(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		var stderr strings.Builder
		cmd := exec.Command(bin)
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			t.Fatalf("pause exited by itself: %v\n%s", err, stderr.String())
		case <-time.After(300 * time.Millisecond):
		}
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%v: pause exited with %v, want 0\n%s", sig, err, stderr.String())
			}
			if !strings.Contains(stderr.String(), "Shutting down, got signal") {
				t.Errorf("%v: stderr %q", sig, stderr.String())
			}
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("%v: pause did not exit", sig)
		}
	}
	out, err := exec.Command(bin, "-v").Output()
	if err != nil || !strings.Contains(string(out), "pause") {
		t.Errorf("pause -v: %v %q", err, out)
	}
}

// TestReap: reap collects exited children without blocking.
func TestReap(t *testing.T) {
	var pids []int
	for i := 0; i < 3; i++ {
		cmd := exec.Command("true")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pids = append(pids, cmd.Process.Pid) // never Wait: zombies for reap
	}
	deadline := time.Now().Add(5 * time.Second)
	n := 0
	for n < len(pids) && time.Now().Before(deadline) {
		n += reap()
		time.Sleep(10 * time.Millisecond)
	}
	if n != len(pids) {
		t.Fatalf("reaped %d children, want %d", n, len(pids))
	}
	for _, pid := range pids {
		if st := procState(pid); st != "" {
			t.Errorf("child %d still there, state %s", pid, st)
		}
	}
	if n := reap(); n != 0 {
		t.Errorf("reap with no exited child: %d", n)
	}
}

// TestReapsOrphansAsPID1 runs pause as PID 1 of a new PID namespace, as in a
// pod that shares its process namespace, orphans a process in that namespace
// and wants no zombie left under pause.
func TestReapsOrphansAsPID1(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a PID namespace")
	}
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		t.Skip("needs nsenter")
	}
	bin := buildPause(t)
	cmd := exec.Command(bin)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	pause := cmd.Process.Pid
	time.Sleep(200 * time.Millisecond)

	// sh (in pause's PID namespace) starts two sleeps and exits at once:
	// they are orphaned, reparented to pause, and exit 0.3 s later (their
	// output does not go to our pipe, or we would wait for them).
	out, err := exec.Command(nsenter, "-t", fmt.Sprint(pause), "-p", "--", "sh", "-c", "sleep 0.3 >/dev/null 2>&1 & sleep 0.3 >/dev/null 2>&1 & exit 0").CombinedOutput()
	if err != nil {
		t.Fatalf("nsenter: %v\n%s", err, out)
	}
	time.Sleep(100 * time.Millisecond)
	if kids := children(pause); len(kids) != 2 {
		t.Fatalf("pause has children %v, want the 2 orphaned sleeps", kids)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		kids := children(pause)
		if len(kids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("children of pause not reaped: %v", kids)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("pause as PID 1: exit %v after SIGTERM, want 0", err)
	}
}

// procState returns the state letter of a process ("" if gone).
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return f[0]
}

// children lists "pid:state" of the processes whose parent is ppid.
func children(ppid int) []string {
	ents, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(ppid) {
			out = append(out, fmt.Sprintf("%d:%s", pid, f[0]))
		}
	}
	return out
}
