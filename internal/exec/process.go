package exec

import (
	"bytes"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"slices"
	"sync"
	"syscall"
)

// Process is a long-lived command talked to over pipes, for programs that
// serve many requests in one run (lvm's shell mode), where starting one
// process a request would cost more than the request.
type Process struct {
	// Stdin is the process's standard input.
	Stdin io.WriteCloser
	// Extra holds the read ends of the pipes the process writes as file
	// descriptors 3, 4, ... in order.
	Extra []*os.File
	// Command is the command line as run, prefix included, for messages.
	Command string

	cmd  *osexec.Cmd
	out  *tail
	done chan struct{}
	once sync.Once
}

// Start starts name with args like Run would (prefix, environment, own
// process group), plus env on top and extra output pipes. Its stdout and
// stderr are kept only as a short tail for messages. The process lives
// until Kill or until it exits by itself.
func (l *Local) Start(env []string, extra int, name string, args ...string) (*Process, error) {
	argv := append(append(append([]string{}, l.opts.Prefix...), name), args...)
	cmd := osexec.Command(argv[0], argv[1:]...)
	cmd.Env = append(append(slices.Clone(l.env), env...), "LC_ALL=C") // the last of a key wins
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &Process{Command: CommandLine(argv[0], argv[1:]...), cmd: cmd, out: &tail{max: 4096}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	var writeEnds []*os.File
	closeAll := func() {
		for _, f := range append(writeEnds, p.Extra...) {
			f.Close()
		}
	}
	for range extra {
		r, w, err := os.Pipe()
		if err != nil {
			closeAll()
			return nil, err
		}
		p.Extra, writeEnds = append(p.Extra, r), append(writeEnds, w)
	}
	cmd.ExtraFiles = writeEnds
	stdin, err := cmd.StdinPipe()
	if err != nil {
		closeAll()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		closeAll()
		return nil, fmt.Errorf("%s: %w", p.Command, err)
	}
	// The child holds its own copies; ours would keep the readers from
	// seeing end of file when the process dies.
	for _, w := range writeEnds {
		w.Close()
	}
	p.Stdin = stdin
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Kill kills the process group, waits for the process and closes the pipes.
// It may be called any number of times, from any goroutine.
func (p *Process) Kill() {
	p.once.Do(func() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		p.Stdin.Close()
		for _, f := range p.Extra {
			f.Close()
		}
	})
}

// Output returns the last bytes the process printed on stdout and stderr.
func (p *Process) Output() string { return p.out.String() }

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = t.buf[over:]
	}
	return len(b), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.TrimSpace(t.buf))
}
