//go:build integration

package blockdev_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/toposuite/toposuite/internal/testutil"
	"github.com/toposuite/toposuite/lvmd/blockdev"
)

const mib = int64(1) << 20

// loops returns n loop devices of size bytes, detached at cleanup.
func loops(t testing.TB, n int, size int64) []string {
	testutil.RequireRoot(t)
	testutil.RequireTools(t, "losetup")
	dir := testutil.Dir(t)
	var out []string
	for range n {
		out = append(out, testutil.LoopDevice(t, dir, size))
	}
	return out
}

func write(t testing.TB, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}

func read(t testing.TB, path string, off, n int64) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	return b
}

func random(n int64) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{7})
	_, _ = r.Read(b)
	return b
}

// Copy gives the destination the source's bytes up to n, with O_DIRECT,
// leaves the rest of the destination alone, and a size that is not a
// multiple of 4 KiB still copies (without O_DIRECT).
func TestIntegrationCopy(t *testing.T) {
	d := loops(t, 2, 48*mib)
	src, dst := d[0], d[1]
	data := random(40 * mib)
	write(t, src, 0, data)
	write(t, dst, 0, bytes.Repeat([]byte{0xEE}, int(48*mib)))

	c, err := blockdev.Copy(testutil.Context(t), dst, src, 40*mib)
	if err != nil {
		t.Fatal(err)
	}
	if c.Bytes != 40*mib || !c.Direct {
		t.Errorf("copied %+v, want 40 MiB with O_DIRECT", c)
	}
	if !bytes.Equal(read(t, dst, 0, 40*mib), data) {
		t.Error("the destination does not hold the source's bytes")
	}
	if !bytes.Equal(read(t, dst, 40*mib, 8*mib), bytes.Repeat([]byte{0xEE}, int(8*mib))) {
		t.Error("the copy wrote past its length")
	}

	odd := 3*mib + 512
	write(t, dst, 0, make([]byte, 4*mib))
	c, err = blockdev.Copy(testutil.Context(t), dst, src, odd)
	if err != nil || c.Direct {
		t.Fatalf("copy of %d bytes: %+v, %v; want a buffered copy", odd, c, err)
	}
	if got := read(t, dst, 0, 4*mib); !bytes.Equal(got[:odd], data[:odd]) || !bytes.Equal(got[odd:], make([]byte, 4*mib-odd)) {
		t.Error("the unaligned copy is wrong")
	}
}

// A source shorter than asked is an error, not a short copy.
func TestIntegrationCopyPastTheSourceFails(t *testing.T) {
	d := loops(t, 2, 8*mib)
	if _, err := blockdev.Copy(testutil.Context(t), d[1], d[0], 16*mib); err == nil {
		t.Error("a copy past the end of its source succeeded")
	}
}

// Zero and ZeroUnmap (or its fallback) leave zeros in their range and
// nothing else changed; both refuse a device someone holds.
func TestIntegrationZeroAndUnmap(t *testing.T) {
	dev := loops(t, 1, 16*mib)[0]
	size, err := blockdev.Size(dev)
	if err != nil || size != 16*mib {
		t.Fatalf("size = %d, %v", size, err)
	}
	ones := bytes.Repeat([]byte{1}, int(16*mib))
	zeros := make([]byte, 4*mib)
	write(t, dev, 0, ones)
	if err := blockdev.Zero(dev, 4*mib, 4*mib); err != nil {
		t.Fatal(err)
	}
	err = blockdev.ZeroUnmap(dev, 8*mib, 4*mib)
	if errors.Is(err, blockdev.ErrUnsupported) {
		t.Logf("the loop device takes no unmapping write-zeroes here: %v", err)
		err = blockdev.Zero(dev, 8*mib, 4*mib)
	}
	if err != nil {
		t.Fatal(err)
	}
	got := read(t, dev, 0, 16*mib)
	if !bytes.Equal(got[:4*mib], ones[:4*mib]) || !bytes.Equal(got[4*mib:12*mib], append(zeros, zeros...)) || !bytes.Equal(got[12*mib:], ones[:4*mib]) {
		t.Error("the device does not hold ones, 8 MiB of zeros, ones")
	}

	fd, err := unix.Open(dev, unix.O_RDONLY|unix.O_EXCL, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	for name, f := range map[string]func(string, int64, int64) error{"zero": blockdev.Zero, "unmap": blockdev.ZeroUnmap, "discard": blockdev.Discard} {
		if err := f(dev, 0, mib); !errors.Is(err, blockdev.ErrBusy) {
			t.Errorf("%s of a device held exclusively: %v, want ErrBusy", name, err)
		}
	}
}

// BenchmarkIntegrationCopy measures Copy between two loop devices (the
// figure docs/csi.md quotes for a restore is the VM's).
func BenchmarkIntegrationCopy(b *testing.B) {
	const size = 256 * mib
	d := loops(b, 2, size)
	write(b, d[0], 0, random(size))
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		if _, err := blockdev.Copy(testutil.Context(b), d[1], d[0], size); err != nil {
			b.Fatal(err)
		}
	}
}
