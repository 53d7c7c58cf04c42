package cluster

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/yaml"
)

// imageSet is what each node's containerd gets: the suite's images from
// `make images` (bin/images/images.txt) and the CSI sidecars' images,
// which this package builds from the sidecar binaries of make tools-e2e
// under the names the charts use by default, so the charts install with
// their own image references (only the suite's tag is set).
type imageSet struct {
	tag   string
	pause string            // docker.io/toposuite/pause:<tag>
	tars  map[string]string // reference -> tarball
}

// suiteImages are the images of make images the cluster uses (lvmd and
// btrfsd run embedded in the node plugins).
var suiteImages = []string{"pause", "busybox", "topolvm-controller", "topolvm-node", "topols-node", "topolvm-scheduler"}

// sidecars: the chart values holding each sidecar's image, and its binary.
var sidecars = []struct{ values, binary string }{
	{"provisioner", "csi-provisioner"},
	{"resizer", "csi-resizer"},
	{"snapshotter", "csi-snapshotter"},
}

func (c *Cluster) loadImages() error {
	b, err := os.ReadFile(filepath.Join(c.o.ImagesDir, "images.txt"))
	if err != nil {
		return fmt.Errorf("%w: run make images", err)
	}
	c.images = imageSet{tars: map[string]string{}}
	have := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		repo, tag, ok := strings.Cut(f[0], ":")
		if !ok {
			return fmt.Errorf("images.txt: bad line %q", line)
		}
		have[filepath.Base(repo)] = f[0]
		c.images.tag = tag
	}
	for _, name := range append(append([]string{}, suiteImages...), c.o.ExtraImages...) {
		ref, ok := have[name]
		if !ok {
			return fmt.Errorf("image %s is not in %s/images.txt: run make images", name, c.o.ImagesDir)
		}
		c.images.tars["docker.io/"+ref] = filepath.Join(c.o.ImagesDir, name+".tar")
	}
	c.images.pause = "docker.io/" + have["pause"]
	return nil
}

// buildSidecarImages writes an image tarball for each CSI sidecar: its
// static binary as the only layer, at the reference the topolvm chart's
// values name.
func (c *Cluster) buildSidecarImages() error {
	vb, err := os.ReadFile(filepath.Join(c.o.Repo, "deploy", "charts", "topolvm", "values.yaml"))
	if err != nil {
		return err
	}
	type image struct {
		Image struct{ Repository, Tag string }
	}
	var values struct {
		Controller struct{ Provisioner, Resizer, Snapshotter image }
	}
	if err := yaml.Unmarshal(vb, &values); err != nil {
		return err
	}
	dir := c.o.path("images")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, s := range sidecars {
		img := map[string]image{"provisioner": values.Controller.Provisioner, "resizer": values.Controller.Resizer,
			"snapshotter": values.Controller.Snapshotter}[s.values].Image
		if img.Repository == "" || img.Tag == "" {
			return fmt.Errorf("topolvm chart: no controller.%s.image", s.values)
		}
		ref := img.Repository + ":" + img.Tag
		out := filepath.Join(dir, s.binary+".tar")
		if err := writeBinaryImage(out, ref, c.o.tool(s.binary)); err != nil {
			return fmt.Errorf("image of %s: %w", s.binary, err)
		}
		c.images.tars[ref] = out
	}
	return nil
}

// writeBinaryImage writes a docker-archive tarball (what `ctr images
// import` reads) of one static binary at /<name>, its entrypoint, run as
// user 65532 unless the pod says otherwise.
func writeBinaryImage(out, ref, binary string) error {
	name := filepath.Base(binary)
	layer, err := os.CreateTemp(filepath.Dir(out), "layer-*.tar")
	if err != nil {
		return err
	}
	defer os.Remove(layer.Name())
	defer layer.Close()
	h := sha256.New()
	tw := tar.NewWriter(io.MultiWriter(layer, h))
	bin, err := os.Open(binary)
	if err != nil {
		return err
	}
	defer bin.Close()
	st, err := bin.Stat()
	if err != nil {
		return err
	}
	epoch := time.Unix(0, 0)
	if err := tw.WriteHeader(&tar.Header{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777, ModTime: epoch}); err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o755, Size: st.Size(), ModTime: epoch}); err != nil {
		return err
	}
	if _, err := io.Copy(tw, bin); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	diffID := hex.EncodeToString(h.Sum(nil))
	config, err := json.Marshal(map[string]any{
		"architecture": "amd64",
		"os":           "linux",
		"created":      epoch.UTC().Format(time.RFC3339),
		"config": map[string]any{
			"Entrypoint": []string{"/" + name},
			"User":       "65532",
			"Env":        []string{"PATH=/usr/local/bin:/usr/bin:/bin"},
		},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + diffID}},
	})
	if err != nil {
		return err
	}
	cs := sha256.Sum256(config)
	configName := hex.EncodeToString(cs[:]) + ".json"
	manifest, err := json.Marshal([]map[string]any{{
		"Config": configName, "RepoTags": []string{ref}, "Layers": []string{diffID + "/layer.tar"},
	}})
	if err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	ow := tar.NewWriter(bw)
	add := func(n string, size int64, r io.Reader) error {
		if err := ow.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o644, Size: size, ModTime: epoch}); err != nil {
			return err
		}
		_, err := io.Copy(ow, r)
		return err
	}
	if err := add(configName, int64(len(config)), strings.NewReader(string(config))); err != nil {
		return err
	}
	lst, err := layer.Stat()
	if err != nil {
		return err
	}
	if _, err := layer.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := add(diffID+"/layer.tar", lst.Size(), layer); err != nil {
		return err
	}
	if err := add("manifest.json", int64(len(manifest)), strings.NewReader(string(manifest))); err != nil {
		return err
	}
	if err := ow.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return f.Close()
}

// importImages imports every image into every node's containerd, the
// nodes in parallel.
func (c *Cluster) importImages(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, c.o.Nodes)
	for i := 1; i <= c.o.Nodes; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sock := c.o.path(nodeName(i), "containerd.sock")
			for ref, file := range c.images.tars {
				if _, err := run(ctx, nil, "ctr", "--address", sock, "--namespace", "k8s.io", "images", "import", file); err != nil {
					errs[i-1] = fmt.Errorf("%s: import %s: %w", nodeName(i), ref, err)
					return
				}
			}
		}(i)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
