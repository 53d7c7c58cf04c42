package blockdev

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// copyBuffer is the size of each read and write: large requests keep a
// disk streaming, and two of them are in flight (one read, one write).
const copyBuffer = 8 << 20

// directAlign is what O_DIRECT needs of offsets, lengths and buffers on
// any device (4 KiB logical blocks at most; buffers are page-aligned).
const directAlign = 4096

// Copied says how a copy went.
type Copied struct {
	Bytes    int64
	Duration time.Duration
	// Direct is true when both devices were used with O_DIRECT (no page
	// cache: the copy neither evicts the node's cache nor waits for it).
	Direct bool
}

// MBps is the copy's throughput in MB/s (10^6 bytes a second).
func (c Copied) MBps() float64 {
	if c.Duration <= 0 {
		return 0
	}
	return float64(c.Bytes) / 1e6 / c.Duration.Seconds()
}

// Copy copies the first n bytes of src into dst and flushes dst to stable
// storage before returning, so that once it returns the copy survives a
// crash. Reading the next chunk overlaps writing the last one. ctx stops
// it between chunks.
func Copy(ctx context.Context, dst, src string, n int64) (Copied, error) {
	start := time.Now()
	direct := n%directAlign == 0
	in, out, err := openPair(dst, src, direct)
	if err != nil && direct {
		// A file system that takes no O_DIRECT (tmpfs) says EINVAL.
		direct = false
		in, out, err = openPair(dst, src, false)
	}
	if err != nil {
		return Copied{}, err
	}
	defer in.Close()
	defer out.Close()

	bufs := make(chan []byte, 2)
	for range 2 {
		b, err := unix.Mmap(-1, 0, copyBuffer, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
		if err != nil {
			return Copied{}, fmt.Errorf("copy buffer: %w", err)
		}
		defer unix.Munmap(b) //nolint:errcheck // nothing to do about it
		bufs <- b
	}
	type chunk struct {
		b   []byte
		off int64
		err error
	}
	filled := make(chan chunk, 1)
	stop, readerDone := make(chan struct{}), make(chan struct{})
	// The reader may be inside a read into a buffer: it must be done
	// before the buffers are unmapped (deferred earlier, so run later).
	defer func() { close(stop); <-readerDone }()
	go func() {
		defer close(readerDone)
		defer close(filled)
		for off := int64(0); off < n; {
			var b []byte
			select {
			case b = <-bufs:
			case <-stop:
				return
			}
			b = b[:min(int64(len(b)), n-off)]
			_, err := io.ReadFull(io.NewSectionReader(in, off, int64(len(b))), b)
			if err != nil {
				err = fmt.Errorf("read %s at %d: %w", src, off, err)
			}
			select {
			case filled <- chunk{b: b, off: off, err: err}:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
			off += int64(len(b))
		}
	}()
	for c := range filled {
		if c.err != nil {
			return Copied{}, c.err
		}
		if err := ctx.Err(); err != nil {
			return Copied{}, fmt.Errorf("copy %s to %s stopped at %d of %d bytes: %w", src, dst, c.off, n, err)
		}
		if _, err := out.WriteAt(c.b, c.off); err != nil {
			return Copied{}, fmt.Errorf("write %s at %d: %w", dst, c.off, err)
		}
		bufs <- c.b[:cap(c.b)]
	}
	// O_DIRECT skips the page cache, not the disk's own write cache:
	// the flush is what makes the copy durable.
	if err := out.Sync(); err != nil {
		return Copied{}, fmt.Errorf("flush %s: %w", dst, err)
	}
	return Copied{Bytes: n, Duration: time.Since(start), Direct: direct}, nil
}

func openPair(dst, src string, direct bool) (in, out *os.File, err error) {
	flag := 0
	if direct {
		flag = unix.O_DIRECT
	}
	if in, err = os.OpenFile(src, os.O_RDONLY|flag, 0); err != nil {
		return nil, nil, err
	}
	if out, err = os.OpenFile(dst, os.O_WRONLY|flag, 0); err != nil {
		in.Close()
		return nil, nil, err
	}
	return in, out, nil
}
