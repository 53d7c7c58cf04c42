package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// pauseBin is the pause program, built once by TestMain. The tests also use
// it (with its name appended, so that each differs) as the suite's static
// binaries: the builder only needs static ELF files.
var pauseBin string

func TestMain(m *testing.M) {
	if os.Getenv(chrootHelperEnv) == "1" {
		chrootHelper(os.Args[1], os.Args[2:]) // does not return
	}
	dir, err := os.MkdirTemp("", "toposuite-images-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pauseBin = filepath.Join(dir, "pause")
	cmd := exec.Command("go", "build", "-trimpath", "-o", pauseBin, "./pause")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build ./pause: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// requireEnv reports whether a missing prerequisite must fail the test
// instead of skipping it (make test sets TOPOSUITE_REQUIRE_ENVTEST=1).
func requireEnv() bool { return os.Getenv("TOPOSUITE_REQUIRE_ENVTEST") == "1" }

func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if requireEnv() {
		t.Fatalf(format+" (TOPOSUITE_REQUIRE_ENVTEST=1)", args...)
	}
	t.Skipf(format, args...)
}

// debRoot returns the extracted Debian packages of fetch-debs.sh, or "" when
// they are missing and need not be there.
func debRootDir(t *testing.T) string {
	t.Helper()
	dir := DefaultDebRoot()
	if _, err := os.Stat(filepath.Join(dir, ".stamp")); err != nil {
		if requireEnv() {
			t.Fatalf("Debian package files missing in %s: run e2e/images/fetch-debs.sh (TOPOSUITE_REQUIRE_ENVTEST=1)", dir)
		}
		t.Logf("Debian package files missing in %s (run e2e/images/fetch-debs.sh)", dir)
		return ""
	}
	return dir
}

// fakeBins writes a static binary for every suite image into a new dir.
func fakeBins(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile(pauseBin)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range Specs {
		if s.Kind == kindSuite {
			if err := os.WriteFile(filepath.Join(dir, s.Name), append(b, "\n"+s.Name...), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// imageNames returns the images buildable with or without the Debian files.
func imageNames(withDebs bool) []string {
	var ns []string
	for _, s := range Specs {
		if withDebs || !(s.Node || s.Kind == kindBusybox) {
			ns = append(ns, s.Name)
		}
	}
	return ns
}

func build(t *testing.T, o Options) []Result {
	t.Helper()
	if o.Arch == "" {
		o.Arch = runtime.GOARCH
	}
	if o.Tag == "" {
		o.Tag = "test"
	}
	o.Log = testWriter{t}
	rs, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

func fileSHA256(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestReproducible builds every image twice from the same inputs, the second
// time after changing the input files' mtimes and the umask, and wants the
// same digests and byte-identical tarballs; a different epoch must change
// the digest.
func TestReproducible(t *testing.T) {
	deb := debRootDir(t)
	if deb == "" {
		t.Log("building the images that need no Debian files only")
	}
	bins := fakeBins(t)
	epoch := time.Unix(1700000000, 0)
	o := Options{BinDir: bins, Pause: pauseBin, DebRoot: deb, Epoch: epoch, Images: imageNames(deb != "")}

	o.OutDir = t.TempDir()
	first := build(t, o)

	later := time.Now().Add(time.Hour)
	for _, s := range Specs {
		if s.Kind == kindSuite {
			if err := os.Chtimes(filepath.Join(bins, s.Name), later, later); err != nil {
				t.Fatal(err)
			}
		}
	}
	old := setUmask(0o077)
	o.OutDir = t.TempDir()
	second := build(t, o)
	setUmask(old)

	if len(first) != len(second) || len(first) != len(o.Images) {
		t.Fatalf("built %d then %d images, want %d", len(first), len(second), len(o.Images))
	}
	for i := range first {
		a, b := first[i], second[i]
		if a.Ref != b.Ref || a.Digest != b.Digest || a.ImageID != b.ImageID || a.Size != b.Size {
			t.Errorf("%s: not reproducible:\n  %s %s %d\n  %s %s %d", a.Ref, a.Digest, a.ImageID, a.Size, b.Digest, b.ImageID, b.Size)
		}
		if ha, hb := fileSHA256(t, a.File), fileSHA256(t, b.File); ha != hb {
			t.Errorf("%s: tarballs differ: sha256 %s and %s", a.Ref, ha, hb)
		}
		t.Logf("%s %s reproducible", a.Ref, a.Digest)
	}
	ia, err := os.ReadFile(filepath.Join(filepath.Dir(first[0].File), IndexFile))
	if err != nil {
		t.Fatal(err)
	}
	ib, err := os.ReadFile(filepath.Join(filepath.Dir(second[0].File), IndexFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ia, ib) {
		t.Errorf("%s differs:\n%s\n%s", IndexFile, ia, ib)
	}
	if got := strings.Count(string(ia), "\n"); got != len(first) {
		t.Errorf("%s has %d lines, want %d:\n%s", IndexFile, got, len(first), ia)
	}

	// The tag names the image but is not in it; the epoch is.
	o.OutDir, o.Tag, o.Images = t.TempDir(), "other", []string{"pause"}
	retagged := build(t, o)
	o.OutDir, o.Tag, o.Epoch = t.TempDir(), "", epoch.Add(time.Second)
	other := build(t, o)
	for _, r := range first {
		if r.Ref != other[0].Ref {
			continue
		}
		if r.Digest != retagged[0].Digest {
			t.Errorf("%s: digest %s, %s tagged %s: the tag changes the image", r.Ref, r.Digest, retagged[0].Digest, retagged[0].Ref)
		}
		if r.Digest == other[0].Digest {
			t.Errorf("%s: same digest with another epoch: the epoch does not reach the image", r.Ref)
		}
	}
}

// loadImage reads an image back from its docker-archive tarball and checks
// the digests Build reported against the tarball: the config's, and the
// manifest digest containerd computes when it imports it (the manifest it
// writes from manifest.json, as in containerd's images/archive/importer.go,
// checked by hand with ctr 1.6.20).
func loadImage(t *testing.T, r Result) v1.Image {
	t.Helper()
	img, err := tarball.ImageFromPath(r.File, nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	if id != r.ImageID {
		t.Fatalf("%s: tarball has config %s, build said %s", r.Ref, id, r.ImageID)
	}
	if d := containerdImportDigest(t, r.File); d != r.Digest.String() {
		t.Fatalf("%s: containerd would import it as %s, build said %s", r.Ref, d, r.Digest)
	}
	return img
}

func containerdImportDigest(t *testing.T, file string) string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sizes := map[string]int64{}
	var mf []struct {
		Config string
		Layers []string
	}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		sizes[h.Name] = h.Size
		if h.Name == "manifest.json" {
			if err := json.NewDecoder(tr).Decode(&mf); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(mf) != 1 {
		t.Fatalf("%s: %d images in manifest.json", file, len(mf))
	}
	desc := func(mt, name string) string {
		return fmt.Sprintf(`{"mediaType":%q,"digest":"sha256:%s","size":%d}`, mt, strings.TrimSuffix(strings.TrimPrefix(name, "sha256:"), ".tar.gz"), sizes[name])
	}
	var layers []string
	for _, l := range mf[0].Layers {
		layers = append(layers, desc("application/vnd.docker.image.rootfs.diff.tar.gzip", l))
	}
	m := `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":` +
		desc("application/vnd.docker.container.image.v1+json", mf[0].Config) + `,"layers":[` + strings.Join(layers, ",") + `]}`
	sum := sha256.Sum256([]byte(m))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// TestImages checks each image's config and the invariants of its layers:
// sorted entries, uid/gid 0, one mtime, parents before children, the files
// the image is for.
func TestImages(t *testing.T) {
	deb := debRootDir(t)
	if deb == "" {
		t.Log("checking the images that need no Debian files only")
	}
	epoch := time.Unix(1700000000, 0).UTC()
	rs := build(t, Options{OutDir: t.TempDir(), BinDir: fakeBins(t), Pause: pauseBin, DebRoot: deb, Epoch: epoch, Images: imageNames(deb != "")})
	nodeLayers := map[v1.Hash]bool{}
	for _, r := range rs {
		spec, _ := selectSpecs([]string{strings.TrimSuffix(strings.TrimPrefix(r.Ref, Repository+"/"), ":test")})
		s := spec[0]
		t.Run(s.Name, func(t *testing.T) {
			img := loadImage(t, r)
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if cf.OS != "linux" || cf.Architecture != runtime.GOARCH || !cf.Created.Time.Equal(epoch) || cf.Config.User != s.User {
				t.Errorf("config: os %q arch %q created %v user %q", cf.OS, cf.Architecture, cf.Created, cf.Config.User)
			}
			if len(cf.History) != len(cf.RootFS.DiffIDs) {
				t.Errorf("%d history entries for %d layers", len(cf.History), len(cf.RootFS.DiffIDs))
			}
			files := map[string]*tar.Header{}
			layers, err := img.Layers()
			if err != nil {
				t.Fatal(err)
			}
			for li, l := range layers {
				for _, h := range layerHeaders(t, l) {
					if h.Uid != 0 || h.Gid != 0 || !h.ModTime.Equal(epoch) {
						t.Errorf("layer %d: %s: uid %d gid %d mtime %v", li, h.Name, h.Uid, h.Gid, h.ModTime)
					}
					files["/"+strings.TrimSuffix(h.Name, "/")] = h
				}
			}
			want := []string{"/etc/passwd", "/tmp"}
			switch {
			case s.Kind == kindSuite:
				want = append(want, path.Join(binDir, s.Name))
				if len(cf.Config.Entrypoint) != 1 || cf.Config.Entrypoint[0] != path.Join(binDir, s.Name) {
					t.Errorf("entrypoint %v", cf.Config.Entrypoint)
				}
			case s.Kind == kindPause:
				want = []string{"/pause"}
			case s.Kind == kindBusybox:
				want = append(want, "/bin/busybox", "/bin/sh", "/bin/ls")
			}
			if s.Node {
				want = append(want, "/sbin/lvm", "/sbin/lvcreate", "/sbin/mkfs.ext4", "/sbin/mkfs.xfs", "/bin/btrfs",
					"/sbin/blkid", "/bin/mount", "/sbin/losetup", "/usr/bin/nsenter", "/etc/lvm/lvm.conf",
					"/lib64/ld-linux-x86-64.so.2", "/usr/share/doc/lvm2/copyright", "/var/lib/dpkg/status.d/lvm2")
				nodeLayers[mustDigest(t, layers[1])] = true
			}
			for _, w := range want {
				if runtime.GOARCH != "amd64" && strings.Contains(w, "x86-64") {
					continue
				}
				if files[w] == nil {
					t.Errorf("%s missing", w)
				}
			}
			if h := files[path.Join(binDir, s.Name)]; s.Kind == kindSuite && h != nil && h.Mode != 0o755 {
				t.Errorf("%s: mode %o", h.Name, h.Mode)
			}
			if h := files["/tmp"]; h != nil && h.Mode != 0o1777 {
				t.Errorf("/tmp: mode %o", h.Mode)
			}
		})
	}
	if deb != "" && len(nodeLayers) != 1 {
		t.Errorf("the node images have %d different tool layers, want one shared", len(nodeLayers))
	}
}

func mustDigest(t *testing.T, l v1.Layer) v1.Hash {
	t.Helper()
	d, err := l.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// layerHeaders reads a layer's tar headers and checks their order.
func layerHeaders(t *testing.T, l v1.Layer) []*tar.Header {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var hs []*tar.Header
	seen := map[string]bool{}
	prev := ""
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n := strings.TrimSuffix(h.Name, "/")
		if prev != "" && !lessPath(prev, n) {
			t.Errorf("tar not sorted: %s after %s", n, prev)
		}
		if d := path.Dir(n); d != "." && !seen[d] {
			t.Errorf("tar: %s before its directory", n)
		}
		seen[n], prev = true, n
		hs = append(hs, h)
	}
	return hs
}

func TestFileTreeTar(t *testing.T) {
	tr := newTree()
	tr.Bytes("/a-b/c", []byte("x"), 0o644)
	tr.Symlink("/a/b/link", "../c")
	tr.Dir("/tmp", 0o1777)
	tr.Bytes("/a/c", []byte("y"), 0o755)
	b, err := tr.Tar(time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	r := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, fmt.Sprintf("%s %o", h.Name, h.Mode))
	}
	want := "a/ 755,a/b/ 755,a/b/link 777,a/c 755,a-b/ 755,a-b/c 644,tmp/ 1777"
	if got := strings.Join(names, ","); got != want {
		t.Errorf("tar entries\n got %s\nwant %s", got, want)
	}
}

func TestDebRootResolve(t *testing.T) {
	dir := t.TempDir()
	mk := func(p string) {
		if err := os.MkdirAll(filepath.Join(dir, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ln := func(target, p string) {
		if err := os.Symlink(target, filepath.Join(dir, p)); err != nil {
			t.Fatal(err)
		}
	}
	mk("a/lib/x86_64-linux-gnu")
	mk("a/lib64")
	mk("b/usr/share/doc/b")
	mk("b/sbin")
	if err := os.WriteFile(filepath.Join(dir, "a/lib/x86_64-linux-gnu/ld.so"), []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	ln("/lib/x86_64-linux-gnu/ld.so", "a/lib64/ld.so")
	ln("../lib64/ld.so", "b/sbin/loader") // relative, into another package
	ln("b", "b/usr/share/doc/c")          // directory symlink
	ln("loop2", "b/sbin/loop1")           // loop
	ln("loop1", "b/sbin/loop2")           // loop
	for _, p := range []string{"a", "b"} {
		if err := os.WriteFile(filepath.Join(dir, p+".control"), []byte("Package: "+p+"\nVersion: 1\nArchitecture: amd64\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "b/usr/share/doc/b/copyright"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := openDebRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{
		"/sbin/loader":                 "/lib/x86_64-linux-gnu/ld.so [/sbin/loader /lib64/ld.so]",
		"/usr/share/doc/c/copyright":   "/usr/share/doc/b/copyright [/usr/share/doc/c]",
		"/lib/x86_64-linux-gnu/ld.so":  "/lib/x86_64-linux-gnu/ld.so []",
		"/usr/share/doc/c/../c/../b/x": "error",
		"/sbin/loop1":                  "error",
	} {
		final, links, err := r.resolve(p)
		got := fmt.Sprintf("%s %v", final, links)
		if err != nil {
			got = "error"
		}
		if got != want {
			t.Errorf("resolve %s = %s (%v), want %s", p, got, err, want)
		}
	}
	if n := r.lookup("/sbin/loader"); n == nil || n.pkg.Name != "b" {
		t.Errorf("/sbin/loader not owned by b: %+v", n)
	}
}

// TestNodeImageRunsInChroot extracts the topolvm-node image as written to
// its tarball and runs the storage tools in a chroot of it: first bare (the
// image alone: version output), then formatting files with each filesystem
// with /proc mounted in a private mount namespace and /dev/null, /dev/zero,
// /dev/urandom made, as a container runtime provides them.
func TestNodeImageRunsInChroot(t *testing.T) {
	if os.Geteuid() != 0 {
		skipOrFail(t, "needs root for chroot")
	}
	deb := debRootDir(t)
	if deb == "" {
		skipOrFail(t, "needs the Debian package files")
	}
	rs := build(t, Options{OutDir: t.TempDir(), BinDir: fakeBins(t), Pause: pauseBin, DebRoot: deb, Epoch: time.Unix(0, 0), Images: []string{"topolvm-node"}})
	root := t.TempDir()
	extractImage(t, loadImage(t, rs[0]), root)

	// (fds a test runner leaks make lvm warn on its first line)
	env := []string{"PATH=" + imagePATH, "LVM_SUPPRESS_FD_WARNINGS=1"}
	// chroot runs a command of the image in a chroot of it. With
	// withProc, the test binary re-executes itself in a private mount
	// namespace to mount /proc in the chroot first (the mount vanishes
	// with the namespace, even if the test is killed).
	chroot := func(t *testing.T, withProc bool, args ...string) (string, error) {
		t.Helper()
		args = append([]string{inImage(t, root, args[0])}, args[1:]...)
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env, cmd.Dir = env, "/"
		cmd.SysProcAttr = chrootAttr(root)
		if withProc {
			cmd = exec.Command(os.Args[0], append([]string{root}, args...)...)
			cmd.Env = append(env, chrootHelperEnv+"=1")
			cmd.SysProcAttr = privateMountNS()
		}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	for _, c := range [][]string{
		{"mkfs.ext4", "-V"}, {"mkfs.xfs", "-V"}, {"btrfs", "--version"}, {"lvm", "version"},
		{"blkid", "-V"}, {"mount", "-V"}, {"losetup", "--version"}, {"nsenter", "--version"},
		{"umount", "-V"}, {"mkfs.btrfs", "--version"}, {"e2fsck", "-V"}, {"resize2fs", "-P", "/nonexistent"},
		{"xfs_growfs", "-V"}, {"lsblk", "--version"}, {"findmnt", "--version"}, {"wipefs", "--version"},
		{"fsck", "--version"}, {"blockdev", "--version"}, {"dmsetup", "--version"}, {"truncate", "--version"},
		{"mkdir", "--version"}, {"/usr/local/bin/topolvm-node", "-v"},
	} {
		out, err := chroot(t, false, c...)
		first := versionLine(out)
		switch {
		case c[0] == "resize2fs" && strings.Contains(out, "resize2fs 1."):
			// no -V: its banner, then the missing file, is what we want
		case c[0] == "dmsetup" && strings.Contains(out, "Library version:"):
			// exits non-zero without /dev/mapper/control
		case err != nil:
			t.Errorf("chroot %s: %v\n%s", strings.Join(c, " "), err, out)
			continue
		}
		t.Logf("%-36s %s", strings.Join(c, " "), first)
	}

	// Files to format: sparse, as large as each filesystem's minimum.
	for name, size := range map[string]int64{"ext4": 64 << 20, "xfs": 320 << 20, "btrfs": 128 << 20} {
		f, err := os.Create(filepath.Join(root, "tmp", name+".img"))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(size); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	makeDevNodes(t, root)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"mkfs.ext4", "-q", "-F", "/tmp/ext4.img"}, ""},
		{[]string{"mkfs.xfs", "-q", "-f", "/tmp/xfs.img"}, ""},
		{[]string{"mkfs.btrfs", "-q", "-f", "/tmp/btrfs.img"}, ""},
		{[]string{"blkid", "-o", "value", "-s", "TYPE", "/tmp/ext4.img"}, "ext4"},
		{[]string{"blkid", "-o", "value", "-s", "TYPE", "/tmp/xfs.img"}, "xfs"},
		{[]string{"blkid", "-o", "value", "-s", "TYPE", "/tmp/btrfs.img"}, "btrfs"},
		{[]string{"fsck", "-a", "/tmp/ext4.img"}, "clean"}, // as k8s.io/mount-utils runs it
		{[]string{"truncate", "--size", ">" + fmt.Sprint(96<<20), "/tmp/ext4.img"}, ""},
		{[]string{"resize2fs", "/tmp/ext4.img"}, "is now 98304"},
		{[]string{"xfs_repair", "-n", "/tmp/xfs.img"}, "Phase 7"},
		{[]string{"btrfs", "inspect-internal", "dump-super", "-f", "/tmp/btrfs.img"}, "sectorsize"},
		{[]string{"wipefs", "--no-act", "--json", "/tmp/ext4.img"}, `"type": "ext4"`},
		{[]string{"mkdir", "-p", "/tmp/a/b"}, ""},
		{[]string{"lvm", "config", "--validate"}, "LVM configuration valid"},
		{[]string{"lvm", "config", "--type", "default", "devices/dir"}, `dir="/dev"`},
	} {
		out, err := chroot(t, true, c.args...)
		if err != nil || !strings.Contains(out, c.want) {
			t.Errorf("chroot %s: %v, want %q in:\n%s", strings.Join(c.args, " "), err, c.want, out)
			continue
		}
		t.Logf("%-36s ok", strings.Join(c.args, " "))
	}

	// The daemons' other way to run the tools: the image's nsenter into
	// the host's namespaces (lvmd's lvm.commandPrefix, [nsenter, -t, "1",
	// -m, -u, -i, -n, -p, --] in a hostPID pod). Here PID 1 belongs to the
	// machine's sandbox and refuses it, so the host is this test process:
	// its mount namespace has the host's root, where sh exists (the image
	// has none).
	out, err := chroot(t, true, "nsenter", "-t", fmt.Sprint(os.Getpid()), "-m", "-u", "-i", "-n", "-p", "--",
		// (uname only: running the host's lvm would make libdevmapper create
		// /dev/mapper/control on a host without device-mapper.)
		"sh", "-c", `echo "in the host: $(uname -n) $(uname -r)"`)
	if err != nil || !strings.Contains(out, "in the host") {
		t.Errorf("chroot nsenter -t <test pid> ... -- sh: %v\n%s", err, out)
	} else {
		t.Logf("nsenter -t <test pid> ... -- sh      %s", strings.Join(strings.Fields(out), " "))
	}
}

// versionLine picks the line of a --version output worth logging.
func versionLine(out string) string {
	lines := strings.Split(out, "\n")
	for _, l := range lines {
		if strings.Contains(l, "LVM version") {
			return strings.TrimSpace(l)
		}
	}
	for _, l := range lines {
		if hasVersion.MatchString(l) && !strings.Contains(l, "Incompatible") && !strings.Contains(l, "License") {
			return strings.TrimSpace(l)
		}
	}
	return strings.TrimSpace(lines[0])
}

var hasVersion = regexp.MustCompile(`\d+\.\d+`)

// inImage finds a command in the image's PATH (as the path inside it).
func inImage(t *testing.T, root, name string) string {
	t.Helper()
	if path.IsAbs(name) {
		return name
	}
	for _, d := range strings.Split(imagePATH, ":") {
		if _, err := os.Lstat(filepath.Join(root, d, name)); err == nil {
			return path.Join(d, name)
		}
	}
	t.Fatalf("%s not in the image's PATH", name)
	return ""
}

// extractImage writes the image's flattened filesystem under root.
func extractImage(t *testing.T, img v1.Image, root string) {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		name := path.Clean("/" + h.Name)
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			err = os.Chmod(p, os.FileMode(h.Mode&0o777)|modeSticky(h.Mode))
		case tar.TypeReg:
			var f *os.File
			if f, err = os.OpenFile(p, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, os.FileMode(h.Mode&0o777)); err == nil {
				_, err = io.Copy(f, tr)
				f.Close()
			}
		case tar.TypeSymlink:
			err = os.Symlink(h.Linkname, p)
		default:
			t.Fatalf("%s: unexpected tar type %c", h.Name, h.Typeflag)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func modeSticky(m int64) os.FileMode {
	if m&0o1000 != 0 {
		return os.ModeSticky
	}
	return 0
}
