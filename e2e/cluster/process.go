package cluster

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/toposuite/toposuite/internal/exec"
)

// Long-running programs are started with os.StartProcess in their own
// session, output to a log file in the lab, so that they outlive the
// command that started them (the cluster stays up after `up`). Short
// commands go through internal/exec like everywhere else in the module.

type spawn struct {
	name  string
	path  string
	args  []string
	env   []string // added to the environment
	log   string
	attr  *syscall.SysProcAttr
	files []*os.File // extra files: fd 3, 4, ...
}

func startProcess(sp spawn) (Proc, error) {
	logf, err := os.OpenFile(sp.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return Proc{}, err
	}
	defer logf.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return Proc{}, err
	}
	defer devnull.Close()
	attr := sp.attr
	if attr == nil {
		attr = &syscall.SysProcAttr{}
	}
	attr.Setsid = true
	files := append([]*os.File{devnull, logf, logf}, sp.files...)
	p, err := os.StartProcess(sp.path, append([]string{sp.path}, sp.args...), &os.ProcAttr{
		Env:   append(append(labEnviron(), sp.env...), "LC_ALL=C"),
		Files: files,
		Sys:   attr,
	})
	if err != nil {
		return Proc{}, fmt.Errorf("start %s: %w", sp.name, err)
	}
	// Reap it whenever it exits, so a dead daemon is not a zombie that
	// looks alive; the cluster learns of deaths through its checks.
	go func() { _, _ = p.Wait() }()
	start, err := procStart(p.Pid)
	if err != nil {
		return Proc{}, fmt.Errorf("%s exited at once: see %s", sp.name, sp.log)
	}
	return Proc{Name: sp.name, PID: p.Pid, Start: start}, nil
}

// labEnviron is this process's environment without KUBECONFIG: the lab's
// programs are told their cluster by flags, and some (csi-provisioner)
// would prefer a KUBECONFIG naming another cluster to their flag.
func labEnviron() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KUBECONFIG=") {
			env = append(env, kv)
		}
	}
	return env
}

// procStart returns the start time of pid (clock ticks since boot).
func procStart(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("pid %d: bad stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, fmt.Errorf("pid %d: bad stat", pid)
	}
	if f[0] == "Z" || f[0] == "X" {
		return 0, fmt.Errorf("pid %d: exited", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// alive reports whether p is still the process the cluster started.
func (p Proc) alive() bool {
	st, err := procStart(p.PID)
	return err == nil && st == p.Start
}

// stop sends SIGTERM, then SIGKILL after grace, and waits until p is gone.
func (p Proc) stop(grace time.Duration) error {
	if !p.alive() {
		return nil
	}
	_ = syscall.Kill(p.PID, syscall.SIGTERM)
	if p.waitGone(grace) {
		return nil
	}
	_ = syscall.Kill(p.PID, syscall.SIGKILL)
	if p.waitGone(10 * time.Second) {
		return nil
	}
	return fmt.Errorf("%s (pid %d) does not exit after SIGKILL", p.Name, p.PID)
}

func (p Proc) waitGone(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for p.alive() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// runner runs short commands (ip, losetup, mkfs, helm, ctr...).
func run(ctx context.Context, env []string, name string, args ...string) (string, error) {
	res, err := exec.NewLocal(exec.Options{Env: env, Timeout: 5 * time.Minute}).Run(ctx, name, args...)
	return string(res.Stdout), err
}
