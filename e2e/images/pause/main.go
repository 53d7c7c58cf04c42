// Command pause is the pod sandbox ("pause") container of the end-to-end
// cluster, in Go instead of the upstream C program: it holds the pod's
// namespaces by doing nothing, reaps the zombies that end up as its children
// (it is PID 1 of pods that share their process namespace; elsewhere it makes
// itself a child subreaper) and exits 0 on SIGTERM or SIGINT.
// Build it static: CGO_ENABLED=0 go build -trimpath ./pause
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// prSetChildSubreaper is PR_SET_CHILD_SUBREAPER from <linux/prctl.h>.
const prSetChildSubreaper = 36

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "-v", "--version", "-version":
			fmt.Println("pause (toposuite)")
			return
		default:
			fmt.Fprintf(os.Stderr, "usage: %s [-v]\n", os.Args[0])
			os.Exit(2)
		}
	}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "Warning: pause should be the first process")
		// Orphaned descendants are reparented to us instead of the
		// namespace's init, so that we reap them too.
		if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); e != 0 {
			fmt.Fprintln(os.Stderr, "Warning: PR_SET_CHILD_SUBREAPER:", e)
		}
	}
	reap() // children that exited before Notify
	for s := range sigs {
		if s == syscall.SIGCHLD {
			reap()
			continue
		}
		fmt.Fprintf(os.Stderr, "Shutting down, got signal: %v\n", s)
		os.Exit(0)
	}
}

// reap collects every exited child without blocking. SIGCHLDs coalesce, so
// one signal may stand for several children.
func reap() int {
	n := 0
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return n
		}
		n++
	}
}
