package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// fileTree is the content of one layer before it is written as a tar: paths
// (relative, "usr/bin/x") to entries. Everything in it is owned by 0:0 and
// carries one fixed mtime; entries are written sorted, parents first, so the
// same tree always gives the same bytes.
type fileTree struct {
	entries map[string]*treeEntry
}

type treeEntry struct {
	typ  byte // tar.TypeReg, tar.TypeDir, tar.TypeSymlink
	mode int64
	host string // content from this file (regular files) ...
	data []byte // ... or from these bytes
	link string
}

func newTree() *fileTree { return &fileTree{entries: map[string]*treeEntry{}} }

func treeKey(p string) string { return strings.TrimPrefix(path.Clean("/"+p), "/") }

// Dir adds a directory (and its parents).
func (t *fileTree) Dir(p string, mode int64) {
	k := treeKey(p)
	if k == "" {
		return
	}
	t.parents(k)
	if e, ok := t.entries[k]; ok && e.typ == tar.TypeDir {
		e.mode = mode
		return
	}
	t.entries[k] = &treeEntry{typ: tar.TypeDir, mode: mode}
}

// File adds a regular file with the content of host.
func (t *fileTree) File(p, host string, mode int64) {
	k := treeKey(p)
	t.parents(k)
	t.entries[k] = &treeEntry{typ: tar.TypeReg, mode: mode, host: host}
}

// Bytes adds a regular file with the given content.
func (t *fileTree) Bytes(p string, data []byte, mode int64) {
	k := treeKey(p)
	t.parents(k)
	t.entries[k] = &treeEntry{typ: tar.TypeReg, mode: mode, data: data}
}

// Symlink adds a symlink p -> target.
func (t *fileTree) Symlink(p, target string) {
	k := treeKey(p)
	t.parents(k)
	t.entries[k] = &treeEntry{typ: tar.TypeSymlink, mode: 0o777, link: target}
}

// Has reports whether p is in the tree.
func (t *fileTree) Has(p string) bool { _, ok := t.entries[treeKey(p)]; return ok }

func (t *fileTree) parents(k string) {
	for d := path.Dir(k); d != "." && d != "/"; d = path.Dir(d) {
		if _, ok := t.entries[d]; ok {
			continue
		}
		t.entries[d] = &treeEntry{typ: tar.TypeDir, mode: 0o755}
	}
}

// Tar writes the tree as an uncompressed tar: sorted, uid/gid 0, mtime epoch.
func (t *fileTree) Tar(epoch time.Time) ([]byte, error) {
	keys := make([]string, 0, len(t.entries))
	for k := range t.entries {
		keys = append(keys, k)
	}
	// A plain sort puts "a" before "a/b" and, "/" sorting after most
	// punctuation, could put "a-b" between them; sorting by components
	// keeps every directory's children right after it.
	sort.Slice(keys, func(i, j int) bool { return lessPath(keys[i], keys[j]) })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, k := range keys {
		e := t.entries[k]
		h := &tar.Header{
			Typeflag: e.typ,
			Name:     k,
			Linkname: e.link,
			Mode:     e.mode,
			Uid:      0,
			Gid:      0,
			Uname:    "root",
			Gname:    "root",
			ModTime:  epoch,
			Format:   tar.FormatPAX,
		}
		var content []byte
		switch e.typ {
		case tar.TypeDir:
			h.Name += "/"
		case tar.TypeReg:
			content = e.data
			if e.host != "" {
				b, err := os.ReadFile(e.host)
				if err != nil {
					return nil, err
				}
				content = b
			}
			h.Size = int64(len(content))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("tar %s: %w", k, err)
		}
		if _, err := tw.Write(content); err != nil {
			return nil, fmt.Errorf("tar %s: %w", k, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func lessPath(a, b string) bool {
	as, bs := strings.Split(a, "/"), strings.Split(b, "/")
	for i := 0; i < len(as) && i < len(bs); i++ {
		if as[i] != bs[i] {
			return as[i] < bs[i]
		}
	}
	return len(as) < len(bs)
}

// Layer turns the tree into an image layer (gzip, computed once).
func (t *fileTree) Layer(epoch time.Time) (v1.Layer, error) {
	b, err := t.Tar(epoch)
	if err != nil {
		return nil, err
	}
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}, tarball.WithCompressionLevel(gzip.DefaultCompression), tarball.WithCompressedCaching)
}
