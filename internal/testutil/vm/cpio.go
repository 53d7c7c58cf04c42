package vm

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// cpioWriter writes a cpio archive in the "newc" format, the one the
// kernel unpacks as an initramfs. The standard library has no cpio package
// and the format is small: a fixed ASCII header per entry, the name, the
// data, each padded to 4 bytes. Entries are written in the order given; the
// kernel does not create missing parent directories, so callers write
// directories first.
type cpioWriter struct {
	w     io.Writer
	n     int64 // bytes written, for the padding
	ino   int
	mtime int64
	err   error
}

const (
	cpioModeDir  = 0o040000
	cpioModeFile = 0o100000
)

func newCPIOWriter(w io.Writer) *cpioWriter {
	// Inode numbers only matter for hard links (nlink > 1), which this
	// writer never makes; start high to stay clear of the base archive's.
	return &cpioWriter{w: w, ino: 1 << 20, mtime: time.Now().Unix()}
}

func (c *cpioWriter) write(b []byte) {
	if c.err != nil {
		return
	}
	n, err := c.w.Write(b)
	c.n += int64(n)
	c.err = err
}

func (c *cpioWriter) pad() {
	if r := c.n % 4; r != 0 {
		c.write(make([]byte, 4-r))
	}
}

func (c *cpioWriter) header(name string, mode uint32, nlink int, size int64) {
	name = strings.TrimPrefix(name, "/")
	c.ino++
	// magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor,
	// devminor, rdevmajor, rdevminor, namesize (with its NUL), check.
	c.write(fmt.Appendf(nil, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, nlink, c.mtime, size, 0, 0, 0, 0, len(name)+1, 0))
	c.write(append([]byte(name), 0))
	c.pad()
}

// Dir adds a directory.
func (c *cpioWriter) Dir(name string, perm uint32) error {
	c.header(name, cpioModeDir|perm, 2, 0)
	return c.err
}

// File adds a regular file of size bytes read from r.
func (c *cpioWriter) File(name string, perm uint32, size int64, r io.Reader) error {
	c.header(name, cpioModeFile|perm, 1, size)
	if c.err == nil {
		var n int64
		n, c.err = io.Copy(c.w, io.LimitReader(r, size))
		c.n += n
		if c.err == nil && n != size {
			c.err = fmt.Errorf("cpio: %s: wrote %d of %d bytes", name, n, size)
		}
	}
	c.pad()
	return c.err
}

// Close writes the trailer that ends the archive.
func (c *cpioWriter) Close() error {
	c.header("TRAILER!!!", 0, 1, 0)
	return c.err
}
