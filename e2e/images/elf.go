package main

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// platform is what the builder needs to know about the target architecture.
type platform struct {
	GOARCH, Variant string
	DebArch         string      // dpkg --print-architecture
	Triplet         string      // multiarch directory, e.g. x86_64-linux-gnu
	Machine         elf.Machine // ELF e_machine of its binaries
	Class           elf.Class   // ELF class
}

var platforms = map[string]platform{
	"amd64": {GOARCH: "amd64", DebArch: "amd64", Triplet: "x86_64-linux-gnu", Machine: elf.EM_X86_64, Class: elf.ELFCLASS64},
	"arm64": {GOARCH: "arm64", Variant: "v8", DebArch: "arm64", Triplet: "aarch64-linux-gnu", Machine: elf.EM_AARCH64, Class: elf.ELFCLASS64},
}

// LibDirs are the directories Debian's dynamic loader searches without an
// ld.so.cache (glibc's trusted directories, multiarch first).
func (p platform) LibDirs() []string {
	return []string{"/lib/" + p.Triplet, "/usr/lib/" + p.Triplet, "/lib", "/usr/lib"}
}

// elfInfo is what the loader needs to run a dynamic executable or library.
type elfInfo struct {
	Interp  string   // PT_INTERP, "" for static binaries
	Needed  []string // DT_NEEDED sonames
	RunPath []string // DT_RUNPATH or DT_RPATH ($ORIGIN expanded)
}

var errNotELF = errors.New("not an ELF file")

// readELF reads the dynamic linking information of the file at host, whose
// path in the image is p. It fails if the file is an ELF file for another
// machine than plat; it returns errNotELF for scripts and data.
func readELF(host, p string, plat platform) (*elfInfo, error) {
	f, err := os.Open(host)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	magic := make([]byte, 4)
	if _, err := io.ReadFull(f, magic); err != nil || !bytes.Equal(magic, []byte(elf.ELFMAG)) {
		return nil, errNotELF
	}
	ef, err := elf.NewFile(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	defer ef.Close()
	if ef.Machine != plat.Machine || ef.Class != plat.Class {
		return nil, fmt.Errorf("%s: ELF %v %v, want %v %v (%s)", p, ef.Class, ef.Machine, plat.Class, plat.Machine, plat.GOARCH)
	}
	info := &elfInfo{}
	for _, prog := range ef.Progs {
		if prog.Type != elf.PT_INTERP {
			continue
		}
		b, err := io.ReadAll(prog.Open())
		if err != nil {
			return nil, fmt.Errorf("%s: PT_INTERP: %w", p, err)
		}
		info.Interp = string(bytes.TrimRight(b, "\x00"))
	}
	if ef.Section(".dynamic") == nil {
		return info, nil // static
	}
	if info.Needed, err = ef.DynString(elf.DT_NEEDED); err != nil {
		return nil, fmt.Errorf("%s: DT_NEEDED: %w", p, err)
	}
	for _, tag := range []elf.DynTag{elf.DT_RUNPATH, elf.DT_RPATH} {
		rp, err := ef.DynString(tag)
		if err != nil {
			return nil, fmt.Errorf("%s: %v: %w", p, tag, err)
		}
		for _, s := range rp {
			for _, d := range strings.Split(s, ":") {
				d = strings.ReplaceAll(strings.ReplaceAll(d, "${ORIGIN}", "$ORIGIN"), "$ORIGIN", path.Dir(p))
				if path.IsAbs(d) {
					info.RunPath = append(info.RunPath, path.Clean(d))
				}
			}
		}
	}
	return info, nil
}
