// Command images builds TopoSuite's container images as docker-archive
// tarballs, without docker or a registry, with go-containerregistry:
// the suite's static binaries, the storage tools the node images need (taken
// from Debian packages fetched by fetch-debs.sh), a pause image and a busybox
// image. The same inputs give the same image digests. See README.md.
//
// Usage:
//
//	GOWORK=off go run . -tag TAG [-out bin/images] [-bin bin] [-pause bin/pause]
//	                    [-debs ~/.cache/toposuite/debs/root] [-images a,b]
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "images:", err)
		os.Exit(1)
	}
}

// DefaultDebRoot is fetch-debs.sh's extraction directory.
func DefaultDebRoot() string {
	if d := os.Getenv("TOPOSUITE_DEBS_DIR"); d != "" {
		return filepath.Join(d, "root")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".cache", "toposuite", "debs", "root")
}

// epochFromEnv reads SOURCE_DATE_EPOCH (seconds); 0 when unset.
func epochFromEnv() (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: not a number of seconds", s)
	}
	return time.Unix(n, 0).UTC(), nil
}

func run(args []string) error {
	fs := flag.NewFlagSet("images", flag.ContinueOnError)
	var o Options
	var images string
	var epoch int64 = -1
	fs.StringVar(&o.OutDir, "out", "bin/images", "output directory: <image>.tar and "+IndexFile)
	fs.StringVar(&o.Tag, "tag", "", "image tag (required)")
	fs.StringVar(&o.BinDir, "bin", "bin", "directory of the suite's static binaries")
	fs.StringVar(&o.Pause, "pause", "bin/pause", "the static pause binary (go build ./pause)")
	fs.StringVar(&o.DebRoot, "debs", DefaultDebRoot(), "extracted Debian packages (fetch-debs.sh DIR/root)")
	fs.StringVar(&o.Arch, "arch", runtime.GOARCH, "image architecture (GOARCH)")
	fs.Int64Var(&epoch, "epoch", -1, "file mtimes and creation time, seconds since 1970 (default $SOURCE_DATE_EPOCH, else 0)")
	fs.StringVar(&o.Revision, "revision", "", "org.opencontainers.image.revision label")
	fs.StringVar(&images, "images", "", "comma-separated images to build (default all)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: images -tag TAG [flags]\nImages:")
		for _, s := range Specs {
			fmt.Fprintf(fs.Output(), "  %s/%s\n", Repository, s.Name)
		}
		fmt.Fprintln(fs.Output(), "Flags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %v", fs.Args())
	}
	if o.Tag == "" {
		return fmt.Errorf("-tag is required")
	}
	if epoch >= 0 {
		o.Epoch = time.Unix(epoch, 0).UTC()
	} else {
		var err error
		if o.Epoch, err = epochFromEnv(); err != nil {
			return err
		}
	}
	if images != "" {
		o.Images = strings.Split(images, ",")
	}
	o.Log = os.Stdout
	_, err := Build(o)
	return err
}
