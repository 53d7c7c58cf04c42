package cluster

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestOptionsRefuseLabUnderNodePrivateDirs(t *testing.T) {
	for _, dir := range []string{"/var/lib/x", "/run/x", "/var/log", "/etc/lvm/lab", "/"} {
		o := Options{Dir: dir, Repo: t.TempDir()}
		if err := o.defaults(); err == nil {
			t.Errorf("lab directory %s accepted", dir)
		}
	}
	o := Options{Dir: "/var/tmp/x/../lab", Repo: t.TempDir()}
	if err := o.defaults(); err != nil {
		t.Fatal(err)
	}
	if o.Dir != "/var/tmp/lab" || o.Nodes != 3 {
		t.Errorf("defaults: dir %s, nodes %d", o.Dir, o.Nodes)
	}
	if err := (&Options{Nodes: 10, Repo: t.TempDir()}).defaults(); err == nil {
		t.Error("10 nodes accepted")
	}
}

func TestOptionsExtenderServiceDefaultsToTheSuites(t *testing.T) {
	o := Options{Dir: "/var/tmp/lab", Repo: t.TempDir()}
	if err := o.defaults(); err != nil {
		t.Fatal(err)
	}
	if want := (ServiceRef{Namespace: "topolvm-scheduler", Name: "topolvm-scheduler"}); o.ExtenderService != want {
		t.Errorf("extender service %+v, want %+v", o.ExtenderService, want)
	}
	o = Options{Dir: "/var/tmp/lab", Repo: t.TempDir(), ExtenderService: ServiceRef{Name: "topolvm-scheduler"}}
	if err := o.defaults(); err == nil {
		t.Error("an extender service without a namespace accepted")
	}
}

func TestStateIsWrittenAtEachChangeAndRefusesASecondCluster(t *testing.T) {
	file := filepath.Join(t.TempDir(), stateName)
	s, err := newState(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.update(func(s *State) {
		s.Loops = append(s.Loops, Loop{Dev: "/dev/loop7", File: "/lab/node1/disks/lvm.img"})
		s.Processes = append(s.Processes, Proc{Name: "node1", PID: 42, Start: 7})
		s.Nodes["node1"] = 42
		s.Sysctls = map[string]string{"kernel.panic": "0"}
	}); err != nil {
		t.Fatal(err)
	}
	got, err := loadState(file)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s.Loops, got.Loops); diff != "" {
		t.Error(diff)
	}
	if got.Nodes["node1"] != 42 || got.Processes[0].Start != 7 || got.Sysctls["kernel.panic"] != "0" {
		t.Errorf("loaded %+v", got)
	}
	if _, err := newState(file); err == nil {
		t.Error("a second state over an existing one was accepted")
	}
	empty, err := loadState(filepath.Join(t.TempDir(), stateName))
	if err != nil || len(empty.Processes) != 0 {
		t.Errorf("missing state file: %+v, %v", empty, err)
	}
}

func TestProcStartTellsThisProcess(t *testing.T) {
	st, err := procStart(os.Getpid())
	if err != nil || st == 0 {
		t.Fatalf("procStart: %d, %v", st, err)
	}
	if !(Proc{PID: os.Getpid(), Start: st}).alive() {
		t.Error("this process is not alive")
	}
	if (Proc{PID: os.Getpid(), Start: st + 1}).alive() {
		t.Error("a process with another start time is taken for this one")
	}
}

func TestLVMConfSeesOnlyTheNodesDevice(t *testing.T) {
	c := lvmConf("/dev/loop12")
	for _, want := range []string{`filter=["a|^/dev/loop12$|","r|.*|"]`, "activation=0", "use_devicesfile=0", "use_aio=0", "udev_sync=0"} {
		if !strings.Contains(c, want) {
			t.Errorf("lvm.conf lacks %s:\n%s", want, c)
		}
	}
}

// writeNodeFiles: the CNI config is valid JSON with the node's subnet, and
// the kubelet and containerd configurations carry the settings this
// machine needs (TESTBED §6).
func TestNodeFiles(t *testing.T) {
	o := Options{Dir: t.TempDir(), Repo: t.TempDir(), Nodes: 2}
	if err := o.defaults(); err != nil {
		t.Fatal(err)
	}
	p, err := o.writePKI(2)
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{o: o, pki: p, server: "https://10.231.0.1:6443", images: imageSet{pause: "docker.io/toposuite/pause:v1"}}
	dir := o.path("node2")
	if err := os.MkdirAll(filepath.Join(dir, "net.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := c.writeNodeFiles("node2", 2, dir, dir+"/containerd.sock"); err != nil {
		t.Fatal(err)
	}
	var cni struct {
		Plugins []struct {
			Type string
			IPAM struct{ Ranges [][]struct{ Subnet string } }
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "net.d", "10-toposuite.conflist"))
	if err := json.Unmarshal(b, &cni); err != nil {
		t.Fatal(err)
	}
	if cni.Plugins[0].Type != "bridge" || cni.Plugins[0].IPAM.Ranges[0][0].Subnet != "10.232.2.0/24" {
		t.Errorf("CNI config: %+v", cni)
	}
	kubelet, _ := os.ReadFile(filepath.Join(dir, "kubelet.yaml"))
	for _, want := range []string{"address: 10.231.0.12", "cgroupRoot: /toposuite-node2", "failCgroupV1: false", "cgroupDriver: cgroupfs",
		"containerRuntimeEndpoint: unix://" + dir + "/containerd.sock", `nodefs.available: "1%"`} {
		if !strings.Contains(string(kubelet), want) {
			t.Errorf("kubelet.yaml lacks %q", want)
		}
	}
	containerd, _ := os.ReadFile(filepath.Join(dir, "containerd.toml"))
	for _, want := range []string{"restrict_oom_score_adj = true", `sandbox_image = "docker.io/toposuite/pause:v1"`, "SystemdCgroup = false",
		`state = "/run/containerd"`} {
		if !strings.Contains(string(containerd), want) {
			t.Errorf("containerd.toml lacks %q", want)
		}
	}
	kc, _ := os.ReadFile(filepath.Join(dir, "kubelet.kubeconfig"))
	if !strings.Contains(string(kc), p.tokens["node2"]) || !strings.Contains(string(kc), "https://10.231.0.1:6443") {
		t.Errorf("kubelet kubeconfig:\n%s", kc)
	}
	tokens, _ := os.ReadFile(o.path("pki", "tokens.csv"))
	if !strings.Contains(string(tokens), p.tokens["node2"]+",system:node:node2,system:node:node2,\"system:nodes\"") {
		t.Errorf("tokens.csv:\n%s", tokens)
	}
}

// The sidecar image tarball is a docker archive containerd imports: the
// manifest names the tag, the config the layer's digest and entrypoint.
func TestBinaryImage(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "csi-provisioner")
	if err := os.WriteFile(bin, []byte("#!binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "img.tar")
	if err := writeBinaryImage(out, "registry.k8s.io/sig-storage/csi-provisioner:v6.3.0", bin); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	files := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		files[h.Name] = b
	}
	var manifest []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil {
		t.Fatal(err)
	}
	if len(manifest) != 1 || manifest[0].RepoTags[0] != "registry.k8s.io/sig-storage/csi-provisioner:v6.3.0" {
		t.Fatalf("manifest: %+v", manifest)
	}
	var config struct {
		OS, Architecture string
		Config           struct{ Entrypoint []string }
		RootFS           struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(files[manifest[0].Config], &config); err != nil {
		t.Fatal(err)
	}
	layer := files[manifest[0].Layers[0]]
	sum := sha256.Sum256(layer)
	if config.RootFS.DiffIDs[0] != "sha256:"+hex.EncodeToString(sum[:]) {
		t.Errorf("diff_id %s is not the layer's digest", config.RootFS.DiffIDs[0])
	}
	if config.OS != "linux" || config.Config.Entrypoint[0] != "/csi-provisioner" {
		t.Errorf("config: %+v", config)
	}
	lr := tar.NewReader(strings.NewReader(string(layer)))
	var names []string
	for {
		h, err := lr.Next()
		if err != nil {
			break
		}
		names = append(names, h.Name)
		if h.Name == "csi-provisioner" && h.Mode != 0o755 {
			t.Errorf("binary mode %o", h.Mode)
		}
	}
	if diff := cmp.Diff([]string{"tmp/", "csi-provisioner"}, names); diff != "" {
		t.Error(diff)
	}
}
