//go:build integration || vminner

package lvmd_test

// Helpers of the tests that check what a volume's device holds after a
// removal or a copy, on the host's development activation and in the VM.

import (
	"bytes"
	"os"
	"testing"
)

const dataChunk = 4 << 20

// wantZeros checks that path reads zeros in [off, off+size).
func wantZeros(t *testing.T, path string, off, size int64) {
	t.Helper()
	wantOnly(t, path, 0, off, size)
}

// wantOnly checks that path holds only byte b in [off, off+size).
func wantOnly(t *testing.T, path string, b byte, off, size int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, want := make([]byte, dataChunk), bytes.Repeat([]byte{b}, dataChunk)
	for o := off; o < off+size; o += dataChunk {
		n := min(dataChunk, off+size-o)
		if _, err := f.ReadAt(got[:n], o); err != nil {
			t.Fatalf("read %s at %d: %v", path, o, err)
		}
		if !bytes.Equal(got[:n], want[:n]) {
			i := 0
			for got[i] == b {
				i++
			}
			t.Errorf("%s holds %#x at offset %d, want only %#x", path, got[i], o+int64(i), b)
			return
		}
	}
}

// fillByte writes size bytes of b over path and syncs it: cheaper under
// the VM's emulated CPU than a pattern, where only "old bytes or not"
// matters.
func fillByte(t *testing.T, path string, size int64, b byte) {
	t.Helper()
	fillRange(t, path, 0, size, b)
}

// fillRange writes n bytes of b at off into path and syncs it.
func fillRange(t *testing.T, path string, off, n int64, b byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := bytes.Repeat([]byte{b}, dataChunk)
	for o := off; o < off+n; o += dataChunk {
		l := min(dataChunk, off+n-o)
		if _, err := f.WriteAt(buf[:l], o); err != nil {
			t.Fatalf("write %s at %d: %v", path, o, err)
		}
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}

// holdsByte reports whether path holds byte b anywhere in [off, end).
func holdsByte(t *testing.T, path string, b byte, off, end int64) bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, dataChunk)
	for o := off; o < end; o += dataChunk {
		n := min(dataChunk, end-o)
		if _, err := f.ReadAt(buf[:n], o); err != nil {
			t.Fatalf("read %s at %d: %v", path, o, err)
		}
		if bytes.IndexByte(buf[:n], b) >= 0 {
			return true
		}
	}
	return false
}
