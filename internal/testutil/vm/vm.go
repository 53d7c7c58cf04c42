// Package vm runs commands and Go tests in a qemu virtual machine with a
// stock Debian kernel, for what the host kernel cannot do (it has no
// device-mapper): LVM's own activation, thin pools, snapshots, RAID.
//
// The kernel and base initramfs come from e2e/vm/build-assets.sh (make
// vm-assets); each Run boots them with a second initramfs archive holding
// the test's files and command, and with fresh sparse disks, under TCG
// (KVM does not work on the project's machines). It is test infrastructure:
// only _test.go files import it.
package vm

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/toposuite/toposuite/internal/exec"
)

// Options describe one boot.
type Options struct {
	// Disks is the number of virtio disks, /dev/vda, /dev/vdb, ...: sparse
	// files of DiskSize bytes (default 1 GiB) in the test's temp dir.
	Disks    int
	DiskSize int64
	// MemoryMiB (default 1024) and CPUs (default 1) size the VM.
	MemoryMiB int
	CPUs      int
	// Files are packed into the guest's root: guest path -> host path.
	// Parent directories are made as needed.
	Files map[string]string
	// Command is the shell script the guest runs (as /toposuite/run, with
	// /bin/sh); its exit status is the Result's.
	Command string
	// Network gives the guest qemu's user network: it is 10.0.2.15 and
	// reaches the host's loopback at HostAddr (an API server on the host,
	// say). Off by default: the NIC's driver costs boot time.
	Network bool
	// Timeout bounds the whole boot (default 10 min), and is cut so that
	// the VM is gone before the test binary's own -timeout.
	Timeout time.Duration
	// Progress, when set, is called with each console line as it comes.
	Progress func(line string)
}

// Result is what a boot did.
type Result struct {
	// ExitCode is the command's exit status, from the guest's marker line.
	ExitCode int
	// Output is everything the serial console printed: kernel messages,
	// the command's stdout and stderr.
	Output string
	// Boot is the time from starting qemu to the guest's /init being ready
	// to run the command; Elapsed is the time to power-off.
	Boot, Elapsed time.Duration
}

const (
	exitMarker  = "TOPOSUITE-VM-EXIT="
	readyMarker = "TOPOSUITE-VM-READY"
)

var exitRE = regexp.MustCompile(`(?m)^` + exitMarker + `(\d+)\s*$`)

// Run boots the VM, runs opts.Command in it and returns its exit status.
// It fails the test when the VM cannot start, times out or never reports
// an exit status, with the console output in the failure. Nothing is left
// behind: qemu has exited when Run returns, and its disks and files live in
// the test's temp dir.
func Run(t testing.TB, opts Options) Result {
	t.Helper()
	skipIfAsked(t)
	a := requireAssets(t)
	opts.defaults()
	timeout := opts.Timeout
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if dl, ok := d.Deadline(); ok {
			// Leave the test binary time to report after a kill.
			timeout = min(timeout, time.Until(dl)-30*time.Second)
		}
	}
	if timeout <= 0 {
		t.Fatalf("VM lane: no time left before the test binary's deadline")
	}
	dir := t.TempDir()

	initrd := filepath.Join(dir, "initrd.img")
	if err := writeInitrd(initrd, a.initramfs, opts.Files, opts.Command); err != nil {
		t.Fatalf("VM lane: initramfs: %v", err)
	}
	args := []string{
		"-accel", "tcg", "-cpu", "max", // KVM does not work on these machines
		"-m", strconv.Itoa(opts.MemoryMiB), "-smp", strconv.Itoa(opts.CPUs),
		// The serial console goes to a file, read while the VM runs; no
		// display or monitor.
		"-display", "none", "-monitor", "none",
		"-serial", "file:" + filepath.Join(dir, "console.log"),
		"-no-reboot", // a guest panic or reboot ends qemu
		"-kernel", a.kernel, "-initrd", initrd,
	}
	cmdline := fmt.Sprintf("console=ttyS0 panic=-1 quiet toposuite.disks=%d toposuite.timeout=%d", opts.Disks, int(timeout.Seconds()))
	if opts.Network {
		// romfile= : the kernel is booted directly, so the NIC needs no
		// boot ROM (and Debian's qemu may lack it).
		args = append(args, "-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0,romfile=")
		cmdline += " toposuite.net=1"
	} else {
		args = append(args, "-nic", "none")
	}
	args = append(args, "-append", cmdline)
	for i := range opts.Disks {
		disk := filepath.Join(dir, fmt.Sprintf("disk%d.img", i))
		if err := os.WriteFile(disk, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(disk, opts.DiskSize); err != nil {
			t.Fatal(err)
		}
		// cache=unsafe: the disks are thrown away, so the guest's flushes
		// need not reach the host's disk.
		args = append(args, "-drive", "file="+disk+",format=raw,if=virtio,cache=unsafe")
	}

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	unlock, err := lockMachine(ctx, t)
	if err != nil {
		t.Fatalf("VM lane: waiting for the other VM: %v", err)
	}
	defer unlock()
	start := time.Now()
	var boot time.Duration
	follow := newFollower(filepath.Join(dir, "console.log"), func(line string) {
		if boot == 0 && strings.HasPrefix(line, readyMarker) {
			boot = time.Since(start)
		}
		if opts.Progress != nil {
			opts.Progress(line)
		}
	})
	// internal/exec kills qemu when ctx ends and waits for it either way.
	res, err := exec.NewLocal(exec.Options{}).Run(ctx, qemu, args...)
	follow.stop()
	out := follow.all()
	r := Result{ExitCode: -1, Output: out, Boot: boot, Elapsed: time.Since(start)}
	if ctx.Err() != nil {
		t.Fatalf("VM lane: the VM did not power off within %v; console:\n%s", timeout, out)
	}
	if err != nil {
		t.Fatalf("VM lane: %v\n%s\nconsole:\n%s", err, res.Stderr, out)
	}
	m := exitRE.FindAllStringSubmatch(out, -1)
	if len(m) == 0 {
		t.Fatalf("VM lane: the guest powered off without an exit status (kernel panic?); console:\n%s", out)
	}
	r.ExitCode, _ = strconv.Atoi(m[len(m)-1][1])
	return r
}

func (o *Options) defaults() {
	if o.DiskSize == 0 {
		o.DiskSize = 1 << 30
	}
	if o.MemoryMiB == 0 {
		o.MemoryMiB = 1024
	}
	if o.CPUs == 0 {
		o.CPUs = 1
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Minute
	}
}

// writeInitrd writes the base initramfs followed by a second archive with
// the files and the command: the kernel unpacks concatenated archives in
// turn, each starting on a 4-byte boundary.
func writeInitrd(path, base string, files map[string]string, command string) error {
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	defer out.Close()
	in, err := os.Open(base)
	if err != nil {
		return err
	}
	n, err := io.Copy(out, in)
	in.Close()
	if err != nil {
		return err
	}
	if r := n % 4; r != 0 {
		if _, err := out.Write(make([]byte, 4-r)); err != nil {
			return err
		}
	}
	bw := bufio.NewWriterSize(out, 1<<20)
	w := newCPIOWriter(bw)
	script := "#!/bin/sh\n" + command + "\n"
	guestPaths := []string{"/toposuite/run"}
	for g := range files {
		guestPaths = append(guestPaths, g)
	}
	sort.Strings(guestPaths)
	made := map[string]bool{"/": true, ".": true}
	for _, g := range guestPaths {
		if err := mkdirs(w, filepath.Dir(g), made); err != nil {
			return err
		}
		if g == "/toposuite/run" {
			err = w.File(g, 0o755, int64(len(script)), strings.NewReader(script))
		} else {
			err = addFile(w, g, files[g])
		}
		if err != nil {
			return err
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return out.Close()
}

// mkdirs writes dir and its parents unless already written.
func mkdirs(w *cpioWriter, dir string, made map[string]bool) error {
	if made[dir] {
		return nil
	}
	if err := mkdirs(w, filepath.Dir(dir), made); err != nil {
		return err
	}
	made[dir] = true
	return w.Dir(dir, 0o755)
}

func addFile(w *cpioWriter, guest, host string) error {
	f, err := os.Open(host)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	return w.File(guest, uint32(st.Mode().Perm()), st.Size(), f)
}

// follower reads the console file while qemu writes it and hands each
// complete line to a callback.
type follower struct {
	path string
	fn   func(string)
	quit chan struct{}
	done chan struct{}
	mu   sync.Mutex
	buf  bytes.Buffer
}

func newFollower(path string, fn func(string)) *follower {
	f := &follower{path: path, fn: fn, quit: make(chan struct{}), done: make(chan struct{})}
	go f.run()
	return f
}

func (f *follower) run() {
	defer close(f.done)
	var off int64
	var partial []byte
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		stopping := false
		select {
		case <-f.quit:
			stopping = true
		case <-tick.C:
		}
		if b, err := readFrom(f.path, off); err == nil && len(b) > 0 {
			off += int64(len(b))
			f.mu.Lock()
			f.buf.Write(b)
			f.mu.Unlock()
			partial = append(partial, b...)
			for {
				i := bytes.IndexByte(partial, '\n')
				if i < 0 {
					break
				}
				f.fn(strings.TrimRight(string(partial[:i]), "\r"))
				partial = partial[i+1:]
			}
		}
		if stopping {
			if len(partial) > 0 {
				f.fn(string(partial))
			}
			return
		}
	}
}

func readFrom(path string, off int64) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	if _, err := fh.Seek(off, io.SeekStart); err != nil {
		return nil, err
	}
	return io.ReadAll(fh)
}

// stop reads what is left and waits for the last callback.
func (f *follower) stop() {
	close(f.quit)
	<-f.done
}

// all returns everything read, with carriage returns dropped.
func (f *follower) all() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.ReplaceAll(f.buf.String(), "\r", "")
}
