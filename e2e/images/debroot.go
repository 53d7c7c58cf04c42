package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// debPackage is one extracted Debian package of a debRoot.
type debPackage struct {
	Name, Version, Arch string
	// Control is the package's control paragraph (`dpkg-deb -f`).
	Control []byte
}

// debNode is one path of the merged view of the extracted packages.
type debNode struct {
	pkg  *debPackage
	host string      // the extracted file on this machine
	kind fs.FileMode // 0 (regular file), fs.ModeDir or fs.ModeSymlink
	link string      // symlink target, as stored in the package
	exec bool        // regular file with an execute bit
}

// debRoot is the merged, read-only view of a directory of extracted Debian
// packages as fetch-debs.sh lays it out: <dir>/<pkg>/ (`dpkg-deb -x`) next to
// <dir>/<pkg>.control. Paths are absolute, as inside the image ("/sbin/lvm").
// Symlinks are resolved inside this view, never on the host.
type debRoot struct {
	dir   string
	pkgs  map[string]*debPackage
	nodes map[string]*debNode
}

// openDebRoot indexes the packages extracted under dir.
func openDebRoot(dir string) (*debRoot, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("debian package files: %w (run e2e/images/fetch-debs.sh)", err)
	}
	r := &debRoot{dir: dir, pkgs: map[string]*debPackage{}, nodes: map[string]*debNode{"/": {kind: fs.ModeDir}}}
	var names []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".control"); ok && !e.IsDir() {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("debian package files: no <pkg>.control in %s (run e2e/images/fetch-debs.sh)", dir)
	}
	sort.Strings(names) // deterministic owner when two packages ship one directory
	for _, n := range names {
		ctl, err := os.ReadFile(filepath.Join(dir, n+".control"))
		if err != nil {
			return nil, err
		}
		p := &debPackage{Control: ctl}
		p.Name, p.Version, p.Arch = controlField(ctl, "Package"), controlField(ctl, "Version"), controlField(ctl, "Architecture")
		if p.Name != n || p.Version == "" {
			return nil, fmt.Errorf("%s.control: Package %q Version %q", n, p.Name, p.Version)
		}
		r.pkgs[n] = p
		if err := r.index(p, filepath.Join(dir, n)); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (r *debRoot) index(p *debPackage, top string) error {
	return filepath.WalkDir(top, func(host string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(top, host)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		name := "/" + filepath.ToSlash(rel)
		n := &debNode{pkg: p, host: host}
		switch t := d.Type(); {
		case t.IsDir():
			n.kind = fs.ModeDir
		case t&fs.ModeSymlink != 0:
			n.kind = fs.ModeSymlink
			if n.link, err = os.Readlink(host); err != nil {
				return err
			}
		case t.IsRegular():
			fi, err := d.Info()
			if err != nil {
				return err
			}
			n.exec = fi.Mode().Perm()&0o111 != 0
		default:
			return nil // no devices or fifos in the packages we take files from
		}
		old, ok := r.nodes[name]
		switch {
		case !ok:
			r.nodes[name] = n
		case old.kind == fs.ModeDir && n.kind == fs.ModeDir:
			// directories are shared
		case old.kind == n.kind && old.link == n.link && n.kind == fs.ModeSymlink:
			// the same symlink in two packages
		default:
			return fmt.Errorf("%s is in both %s and %s", name, old.pkg.Name, p.Name)
		}
		return nil
	})
}

// controlField returns a single-line field of a control paragraph.
func controlField(ctl []byte, field string) string {
	sc := bufio.NewScanner(bytes.NewReader(ctl))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// lookup returns the node at an exact path (no symlink resolution).
func (r *debRoot) lookup(p string) *debNode { return r.nodes[p] }

// resolve follows the symlinks of p (in any component) inside the view. It
// returns the final path and, in order, every symlink it went through, so that
// copying those symlinks and the final file reproduces p in the image.
func (r *debRoot) resolve(p string) (string, []string, error) {
	if !path.IsAbs(p) {
		return "", nil, fmt.Errorf("%s: not an absolute path", p)
	}
	var links []string
	parts := splitPath(p)
	cur := "/"
	for i, hops := 0, 0; i < len(parts); i++ {
		next := path.Join(cur, parts[i])
		n := r.nodes[next]
		if n == nil {
			return "", nil, fmt.Errorf("%s: %w in the Debian packages", p, fs.ErrNotExist)
		}
		if n.kind != fs.ModeSymlink {
			if i < len(parts)-1 && n.kind != fs.ModeDir {
				return "", nil, fmt.Errorf("%s: %s is not a directory", p, next)
			}
			cur = next
			continue
		}
		if hops++; hops > 40 {
			return "", nil, fmt.Errorf("%s: too many levels of symbolic links", p)
		}
		links = append(links, next)
		t := n.link
		if !path.IsAbs(t) {
			t = path.Join(cur, t) // cur has no symlinks left: lexical ".." is right
		}
		parts = append(splitPath(t), parts[i+1:]...)
		cur, i = "/", -1
	}
	return cur, links, nil
}

func splitPath(p string) []string {
	p = path.Clean("/" + p)
	if p == "/" {
		return nil
	}
	return strings.Split(p[1:], "/")
}

// walk calls fn for every path under dir (not following symlinks), sorted.
func (r *debRoot) walk(dir string, fn func(p string, n *debNode)) {
	var ps []string
	for p := range r.nodes {
		if strings.HasPrefix(p, dir+"/") {
			ps = append(ps, p)
		}
	}
	sort.Strings(ps)
	for _, p := range ps {
		fn(p, r.nodes[p])
	}
}
