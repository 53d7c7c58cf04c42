package exec

import (
	"bufio"
	"io"
	"strings"
	"testing"
	"time"
)

func TestProcessTalksOverPipes(t *testing.T) {
	l := NewLocal(Options{Env: []string{"TOPO_A=1"}})
	p, err := l.Start([]string{"TOPO_B=2"}, 1, "sh", "-c", `echo hello on stderr >&2; while read -r l; do echo "$l $TOPO_A $TOPO_B $LC_ALL" >&3; done`)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	if _, err := io.WriteString(p.Stdin, "ping\n"); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(p.Extra[0]).ReadString('\n')
	if err != nil || line != "ping 1 2 C\n" {
		t.Fatalf("fd 3 gave %q, %v", line, err)
	}
	// stderr is copied by a goroutine of os/exec: give it time.
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(p.Output(), "hello on stderr"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("output tail %q", p.Output())
		}
	}
	p.Kill()
	p.Kill() // a second call is harmless
	select {
	case <-p.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("killed process not done")
	}
	if _, err := p.Extra[0].Read(make([]byte, 1)); err == nil {
		t.Error("the report pipe is still open after Kill")
	}
}

func TestTailKeepsTheLastBytes(t *testing.T) {
	tl := &tail{max: 4}
	_, _ = tl.Write([]byte("abc"))
	_, _ = tl.Write([]byte("defg"))
	if got := tl.String(); got != "defg" {
		t.Errorf("tail = %q", got)
	}
}
