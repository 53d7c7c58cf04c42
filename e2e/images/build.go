package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Options are the inputs of a build. The same Options (and the same input
// files) give the same image digests.
type Options struct {
	OutDir  string // where <image>.tar and images.txt go
	Tag     string // image tag
	BinDir  string // the suite's static binaries (CGO_ENABLED=0), bin/<name>
	Pause   string // the static pause binary
	DebRoot string // extracted Debian packages (fetch-debs.sh's DIR/root)
	Arch    string // GOARCH of the images; every binary must match it
	// Epoch is every file's mtime and the images' creation time
	// (SOURCE_DATE_EPOCH).
	Epoch    time.Time
	Revision string   // org.opencontainers.image.revision label when set
	Images   []string // the images to build; all of Specs when empty
	Log      io.Writer
}

// Result is one written image.
type Result struct {
	Ref     string  // toposuite/<name>:<tag>
	File    string  // the docker-archive tarball
	Digest  v1.Hash // manifest digest, as containerd has it once imported
	ImageID v1.Hash // config digest (what `docker images` calls the ID)
	Size    int64   // bytes of the tarball
}

// IndexFile is the index of a build in OutDir: one line per image,
// "<ref> <digest> <tarball bytes> <image ID>". The digest is the manifest's,
// as containerd shows it after `ctr images import` (see manifest.go); the
// image ID is the config's digest (crictl's IMAGE ID).
const IndexFile = "images.txt"

// Build writes one docker-archive tarball per image and the index.
func Build(o Options) ([]Result, error) {
	start := time.Now()
	if o.Log == nil {
		o.Log = io.Discard
	}
	plat, ok := platforms[o.Arch]
	if !ok {
		return nil, fmt.Errorf("arch %q: not one of amd64, arm64", o.Arch)
	}
	specs, err := selectSpecs(o.Images)
	if err != nil {
		return nil, err
	}
	b := &builder{o: o, plat: plat}
	for _, s := range specs {
		if s.Node || s.Kind == kindBusybox {
			if b.deb, err = openDebRoot(o.DebRoot); err != nil {
				return nil, err
			}
			break
		}
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return nil, err
	}
	// The layers several images share first, then the images, a few at a
	// time (compressing the binaries is most of the time).
	for _, s := range specs {
		var err error
		if s.Kind == kindSuite || s.Kind == kindBusybox {
			_, err = b.baseLayer()
		}
		if err == nil && s.Node {
			_, err = b.nodeLayer()
		}
		if err == nil && s.Kind == kindBusybox {
			_, err = b.busyboxLayer()
		}
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", s.Name, err)
		}
	}
	results := make([]Result, len(specs))
	errs := make([]error, len(specs))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, s := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i], errs[i] = b.image(s)
		}()
	}
	wg.Wait()
	for i, r := range results {
		if errs[i] != nil {
			return nil, fmt.Errorf("image %s: %w", specs[i].Name, errs[i])
		}
		fmt.Fprintf(o.Log, ">> %-40s %s %6.1f MiB\n", r.Ref, r.Digest, float64(r.Size)/(1<<20))
	}
	var idx bytes.Buffer
	for _, r := range results {
		fmt.Fprintf(&idx, "%s %s %d %s\n", r.Ref, r.Digest, r.Size, r.ImageID)
	}
	if err := writeFileAtomic(filepath.Join(o.OutDir, IndexFile), idx.Bytes()); err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Log, ">> %d images in %s (%s)\n", len(results), o.OutDir, time.Since(start).Round(100*time.Millisecond))
	return results, nil
}

func selectSpecs(names []string) ([]imageSpec, error) {
	if len(names) == 0 {
		return Specs, nil
	}
	var out []imageSpec
	for _, n := range names {
		found := false
		for _, s := range Specs {
			if s.Name == n {
				out = append(out, s)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("no image %q", n)
		}
	}
	return out, nil
}

type builder struct {
	o    Options
	plat platform
	deb  *debRoot
	// Layers shared by several images, built once (same layer, same digest:
	// containerd stores it once), before the images are built concurrently.
	base, node, busybox v1.Layer
}

type layerSpec struct {
	layer v1.Layer
	what  string
}

func (b *builder) image(s imageSpec) (Result, error) {
	ref, err := name.NewTag(Repository + "/" + s.Name + ":" + b.o.Tag)
	if err != nil {
		return Result{}, err
	}
	var layers []layerSpec
	cfg := v1.Config{
		Env:    []string{"PATH=" + imagePATH},
		User:   s.User,
		Labels: b.labels(s),
	}
	switch s.Kind {
	case kindSuite:
		base, err := b.baseLayer()
		if err != nil {
			return Result{}, err
		}
		layers = append(layers, layerSpec{base, "/etc/passwd, /etc/group, /tmp"})
		if s.Node {
			node, err := b.nodeLayer()
			if err != nil {
				return Result{}, err
			}
			layers = append(layers, layerSpec{node, "storage tools from Debian " + b.debSuite() + " packages"})
		}
		bin, err := b.binaryLayer(filepath.Join(b.o.BinDir, s.Name), path.Join(binDir, s.Name))
		if err != nil {
			return Result{}, err
		}
		layers = append(layers, layerSpec{bin, path.Join(binDir, s.Name)})
		cfg.Entrypoint = []string{path.Join(binDir, s.Name)}
	case kindPause:
		bin, err := b.binaryLayer(b.o.Pause, "/pause")
		if err != nil {
			return Result{}, err
		}
		layers = append(layers, layerSpec{bin, "/pause"})
		cfg.Entrypoint = []string{"/pause"}
	case kindBusybox:
		base, err := b.baseLayer()
		if err != nil {
			return Result{}, err
		}
		bb, err := b.busyboxLayer()
		if err != nil {
			return Result{}, err
		}
		layers = append(layers, layerSpec{base, "/etc/passwd, /etc/group, /tmp"}, layerSpec{bb, "busybox from Debian busybox-static"})
		cfg.Cmd = []string{"sh"}
	}
	created := v1.Time{Time: b.o.Epoch.UTC()}
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		Architecture: b.plat.GOARCH,
		Variant:      b.plat.Variant,
		OS:           "linux",
		Created:      created,
		Config:       cfg,
		RootFS:       v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return Result{}, err
	}
	var adds []mutate.Addendum
	for _, l := range layers {
		adds = append(adds, mutate.Addendum{Layer: l.layer, History: v1.History{
			Created:   created,
			CreatedBy: "toposuite e2e/images: " + l.what,
		}})
	}
	if img, err = mutate.Append(img, adds...); err != nil {
		return Result{}, err
	}
	if img, err = withImportManifest(img); err != nil {
		return Result{}, err
	}
	file := filepath.Join(b.o.OutDir, s.Name+".tar")
	tmp := file + ".tmp"
	if err := tarball.WriteToFile(tmp, ref, img); err != nil {
		os.Remove(tmp)
		return Result{}, err
	}
	if err := os.Rename(tmp, file); err != nil {
		return Result{}, err
	}
	r := Result{Ref: ref.String(), File: file}
	if r.Digest, err = img.Digest(); err != nil {
		return Result{}, err
	}
	if r.ImageID, err = img.ConfigName(); err != nil {
		return Result{}, err
	}
	fi, err := os.Stat(file)
	if err != nil {
		return Result{}, err
	}
	r.Size = fi.Size()
	return r, nil
}

// labels: the tag is not one of them, so that the same content tagged
// differently is the same image (same digest).
func (b *builder) labels(s imageSpec) map[string]string {
	l := map[string]string{
		"org.opencontainers.image.title":  s.Name,
		"org.opencontainers.image.source": "https://github.com/toposuite/toposuite",
	}
	if b.o.Revision != "" {
		l["org.opencontainers.image.revision"] = b.o.Revision
	}
	return l
}

func (b *builder) debSuite() string {
	if p := b.deb.pkgs["base-files"]; p != nil {
		return p.Version // bookworm's base-files is 12.4+deb12uN
	}
	return ""
}

// baseLayer: users, groups and /tmp for the suite and busybox images.
func (b *builder) baseLayer() (v1.Layer, error) {
	if b.base != nil {
		return b.base, nil
	}
	t := newTree()
	t.Bytes("/etc/passwd", []byte("root:x:0:0:root:/root:/bin/sh\n"+
		"nonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin\n"+
		"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"), 0o644)
	t.Bytes("/etc/group", []byte("root:x:0:\nnonroot:x:65532:\nnogroup:x:65534:\n"), 0o644)
	t.Bytes("/etc/nsswitch.conf", []byte("passwd: files\ngroup: files\nhosts: files dns\n"), 0o644)
	t.Dir("/root", 0o700)
	t.Dir("/tmp", 0o1777)
	var err error
	b.base, err = t.Layer(b.o.Epoch)
	return b.base, err
}

// nodeLayer: the storage tools, their libraries and configuration, with the
// packages' copyright files and dpkg status for scanners.
func (b *builder) nodeLayer() (v1.Layer, error) {
	if b.node != nil {
		return b.node, nil
	}
	t := newTree()
	sel := newSelection(b.deb, b.plat, t)
	for _, c := range nodeCommands {
		if err := sel.Command(c); err != nil {
			return nil, err
		}
	}
	for _, f := range nodeFiles {
		if err := sel.Path(f); err != nil {
			return nil, err
		}
	}
	for _, l := range nodeLibraries {
		if err := sel.Library(l); err != nil {
			return nil, err
		}
	}
	if err := sel.Provenance(); err != nil {
		return nil, err
	}
	// What a Debian system has and the tools expect: mount and e2fsprogs
	// read /etc/mtab, LVM locks in /run/lock/lvm and keeps state in /run/lvm.
	t.Symlink("/etc/mtab", "../proc/self/mounts")
	t.Dir("/run/lock", 0o1777)
	t.Dir("/run/lvm", 0o700)
	var err error
	b.node, err = t.Layer(b.o.Epoch)
	return b.node, err
}

// busyboxLayer: /bin/busybox and a symlink per applet.
func (b *builder) busyboxLayer() (v1.Layer, error) {
	if b.busybox != nil {
		return b.busybox, nil
	}
	t := newTree()
	sel := newSelection(b.deb, b.plat, t)
	if err := sel.Command("busybox"); err != nil {
		return nil, err
	}
	if err := sel.Provenance(); err != nil {
		return nil, err
	}
	final, _, err := b.deb.resolve("/bin/busybox")
	if err != nil {
		return nil, err
	}
	applets, err := busyboxApplets(b.deb.lookup(final).host, b.plat)
	if err != nil {
		return nil, err
	}
	for _, a := range applets {
		if p := "/" + a; !t.Has(p) {
			t.Symlink(p, "/bin/busybox")
		}
	}
	b.busybox, err = t.Layer(b.o.Epoch)
	return b.busybox, err
}

// busyboxApplets asks busybox (static) for its applets' paths ("bin/sh").
func busyboxApplets(host string, plat platform) ([]string, error) {
	if runtime.GOARCH != plat.GOARCH {
		return nil, fmt.Errorf("busybox applets: cannot run the %s busybox on %s", plat.GOARCH, runtime.GOARCH)
	}
	out, err := exec.Command(host, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("busybox --list-full: %w", err)
	}
	var applets []string
	for _, l := range strings.Fields(string(out)) {
		if l != "" && !strings.HasPrefix(l, "/") && !strings.Contains(l, "..") {
			applets = append(applets, l)
		}
	}
	if len(applets) < 50 {
		return nil, fmt.Errorf("busybox --list-full: only %d applets", len(applets))
	}
	return applets, nil
}

// binaryLayer: one static binary at p.
func (b *builder) binaryLayer(host, p string) (v1.Layer, error) {
	info, err := readELF(host, p, b.plat)
	if errors.Is(err, errNotELF) {
		return nil, fmt.Errorf("%s: not an ELF binary", host)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", host, err)
	}
	if info.Interp != "" || len(info.Needed) > 0 {
		return nil, fmt.Errorf("%s is dynamically linked (interpreter %q, needs %v): build it with CGO_ENABLED=0", host, info.Interp, info.Needed)
	}
	t := newTree()
	t.File(p, host, 0o755)
	return t.Layer(b.o.Epoch)
}

func writeFileAtomic(p string, data []byte) error {
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}
