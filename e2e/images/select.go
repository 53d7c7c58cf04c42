package main

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
)

// pathDirs is where commands are looked up, in the order of the images' PATH.
var pathDirs = []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}

// debSelection copies chosen paths of a debRoot into a fileTree together with
// the symlinks that lead to them and, for ELF files, the dynamic loader and
// every shared library they need (DT_NEEDED, transitively), so that what it
// copies runs from the image alone.
type debSelection struct {
	root *debRoot
	plat platform
	tree *fileTree
	done map[string]bool // final paths already copied
	pkgs map[string]bool // packages something was copied from
}

func newSelection(root *debRoot, plat platform, tree *fileTree) *debSelection {
	return &debSelection{root: root, plat: plat, tree: tree, done: map[string]bool{}, pkgs: map[string]bool{}}
}

// Path copies p: a file (with its libraries), a symlink chain, or a directory
// with everything under it.
func (s *debSelection) Path(p string) error {
	final, links, err := s.root.resolve(p)
	if err != nil {
		return err
	}
	for _, l := range links {
		n := s.root.lookup(l)
		s.tree.Symlink(l, n.link)
		s.pkgs[n.pkg.Name] = true
	}
	if s.done[final] {
		return nil
	}
	s.done[final] = true
	n := s.root.lookup(final)
	if n.pkg != nil {
		s.pkgs[n.pkg.Name] = true
	}
	switch n.kind {
	case fs.ModeDir:
		s.tree.Dir(final, 0o755)
		var err error
		s.root.walk(final, func(q string, c *debNode) {
			if err == nil && path.Dir(q) == final {
				err = s.Path(q)
			}
		})
		return err
	case fs.ModeSymlink:
		return fmt.Errorf("%s: unresolved symlink", final) // resolve never returns one
	}
	mode := int64(0o644)
	if n.exec {
		mode = 0o755
	}
	s.tree.File(final, n.host, mode)
	info, err := readELF(n.host, final, s.plat)
	if errors.Is(err, errNotELF) {
		return nil
	}
	if err != nil {
		return err
	}
	if info.Interp != "" {
		if err := s.Path(info.Interp); err != nil {
			return fmt.Errorf("loader of %s: %w", final, err)
		}
	}
	for _, so := range info.Needed {
		lib, err := s.findLib(so, info.RunPath)
		if err != nil {
			return fmt.Errorf("%s needs %w", final, err)
		}
		if err := s.Path(lib); err != nil {
			return err
		}
	}
	return nil
}

// Library copies a shared library found the way the loader finds it.
func (s *debSelection) Library(soname string) error {
	lib, err := s.findLib(soname, nil)
	if err != nil {
		return err
	}
	return s.Path(lib)
}

func (s *debSelection) findLib(soname string, runPath []string) (string, error) {
	dirs := append(append([]string{}, runPath...), s.plat.LibDirs()...)
	for _, d := range dirs {
		p := path.Join(d, soname)
		if _, _, err := s.root.resolve(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s, which is in none of %v of the Debian packages: add its package to ROOTS in fetch-debs.sh", soname, dirs)
}

// Command copies an executable found in the PATH directories, its aliases
// (the symlinks its package ships to it in those directories: lvcreate ->
// lvm, mkfs.ext4 -> mke2fs...) and its libraries. Scripts are refused: their
// interpreter would be missing.
func (s *debSelection) Command(name string) error {
	var found string
	for _, d := range pathDirs {
		if s.root.lookup(path.Join(d, name)) != nil {
			found = path.Join(d, name)
			break
		}
	}
	if found == "" {
		return fmt.Errorf("command %s: in none of %v of the Debian packages", name, pathDirs)
	}
	final, _, err := s.root.resolve(found)
	if err != nil {
		return fmt.Errorf("command %s: %w", name, err)
	}
	n := s.root.lookup(final)
	if n.kind != 0 || !n.exec {
		return fmt.Errorf("command %s: %s is not an executable file", name, final)
	}
	if _, err := readELF(n.host, final, s.plat); err != nil {
		if errors.Is(err, errNotELF) {
			return fmt.Errorf("command %s: %s is a script, not a binary", name, final)
		}
		return err
	}
	if err := s.Path(found); err != nil {
		return err
	}
	for _, d := range pathDirs {
		var aliases []string
		s.root.walk(d, func(q string, c *debNode) {
			if c.kind != fs.ModeSymlink || c.pkg != n.pkg || path.Dir(q) != d {
				return
			}
			if f, _, err := s.root.resolve(q); err == nil && f == final {
				aliases = append(aliases, q)
			}
		})
		for _, a := range aliases {
			if err := s.Path(a); err != nil {
				return err
			}
		}
	}
	return nil
}

// Packages returns the names of the packages something was copied from.
func (s *debSelection) Packages() []string {
	var ps []string
	for p := range s.pkgs {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	return ps
}

// Provenance copies each used package's copyright file and writes its control
// paragraph to /var/lib/dpkg/status.d/<pkg>, where image scanners (trivy,
// grype, syft) look for the Debian packages of distroless-style images.
func (s *debSelection) Provenance() error {
	for _, p := range s.Packages() {
		// Debian requires the copyright file; a package whose doc
		// directory links to another's (libgcc-s1 -> gcc-12-base) needs
		// that package fetched too.
		if err := s.Path("/usr/share/doc/" + p + "/copyright"); err != nil {
			return fmt.Errorf("copyright of %s: %w", p, err)
		}
	}
	for _, p := range s.Packages() { // the copyright files may add packages
		ctl := s.root.pkgs[p].Control
		if len(ctl) > 0 && ctl[len(ctl)-1] != '\n' {
			ctl = append(ctl, '\n')
		}
		s.tree.Bytes("/var/lib/dpkg/status.d/"+p, ctl, 0o644)
	}
	return nil
}
