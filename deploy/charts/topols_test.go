package charts_test

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"

	btrfsdconfig "github.com/toposuite/toposuite/btrfsd/config"
	btrfsdapp "github.com/toposuite/toposuite/cmd/btrfsd/app"
	topolsapp "github.com/toposuite/toposuite/cmd/topols-node/app"
)

// btrfsdConfig decodes the rendered btrfsd.yaml with btrfsd's own strict
// loader and validation.
func btrfsdConfig(t testing.TB, r *rendered, name string) *btrfsdconfig.Config {
	t.Helper()
	cm := get[corev1.ConfigMap](t, r, "ConfigMap", name)
	cfg, err := btrfsdconfig.Parse([]byte(cm.Data["btrfsd.yaml"]))
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		t.Fatalf("btrfsd refuses the rendered config: %v\n%s", err, cm.Data["btrfsd.yaml"])
	}
	return cfg
}

func TestChartsTopolsDefaults(t *testing.T) {
	t.Parallel()
	r := render(t, "topols", "topols", "topols-system", nil)
	tag := appVersion(t, "topols")

	checkCSIDriver(t, r, "topols.io")
	d := checkController(t, r, "topols-controller", "topols.io", "btrfs")
	if got := container(t, d.Spec.Template.Spec, "controller").Image; got != "toposuite/topolvm-controller:"+tag {
		t.Errorf("controller image %q: TopoLS runs topolvm-controller --driver-name topols.io", got)
	}

	ds := checkNode(t, r, "topols-node", "topols.io", "/var/lib/kubelet")
	spec := ds.Spec.Template.Spec
	n := container(t, spec, "node")
	if n.Image != "toposuite/topols-node:"+tag {
		t.Errorf("node image %q", n.Image)
	}
	wantArgs(t, n, "--btrfsd-config=/etc/topols/btrfsd.yaml",
		"--kubelet-registration-path=/var/lib/kubelet/plugins/topols.io/node/csi.sock")
	checkCobraFlags(t, "node", topolsapp.NewCommand(), n.Args)
	if spec.HostPID {
		t.Error("topols-node shares the host PID namespace by default")
	}
	if len(spec.InitContainers) != 0 {
		t.Errorf("init containers without btrfsd.prepare: %+v", spec.InitContainers)
	}
	cfg := btrfsdConfig(t, r, "topols-btrfsd")
	for _, p := range cfg.Pools {
		m, v := mountAt(t, spec, n, p.Path)
		if v.HostPath == nil || v.HostPath.Path != p.Path {
			t.Errorf("pool %s volume %+v", p.Name, v.VolumeSource)
		}
		if m.MountPropagation == nil || *m.MountPropagation != corev1.MountPropagationHostToContainer {
			t.Errorf("pool %s mount propagation %v, want HostToContainer", p.Name, m.MountPropagation)
		}
	}

	sc := get[storagev1.StorageClass](t, r, "StorageClass", "topols-provisioner")
	if sc.Provisioner != "topols.io" || sc.Parameters["csi.storage.k8s.io/fstype"] != "btrfs" {
		t.Errorf("StorageClass %+v", sc)
	}
	checkRBAC(t, r, "topols.io", "controller", "provisioner", "resizer", "snapshotter", "node")
	checkNamespaces(t, r, "topols-system")
}

func TestChartsTopolsPoolsAndPrepare(t *testing.T) {
	t.Parallel()
	r := render(t, "topols", "ls", "storage", map[string]any{
		"btrfsd": map[string]any{
			"prepare": map[string]any{"enabled": true},
			"config": map[string]any{
				"pools": []any{
					map[string]any{"name": "fast", "path": "/mnt/fast", "default": true, "enableQuota": true,
						"filesystem": map[string]any{"devices": []any{"/dev/nvme1n1", "/dev/nvme2n1"}, "dataProfile": "raid1"}},
					map[string]any{"name": "slow", "path": "/mnt/slow", "budget": "100Gi"},
				},
			},
		},
		"storageClasses": []any{map[string]any{"name": "ls-fast", "deviceClass": "fast"}},
	})
	spec := get[appsv1.DaemonSet](t, r, "DaemonSet", "ls-topols-node").Spec.Template.Spec
	prep := container(t, spec, "btrfsd-prepare")
	if prep.Image != "toposuite/btrfsd:"+appVersion(t, "topols") || !privileged(prep) || prep.Args[0] != "prepare" {
		t.Errorf("btrfsd-prepare %+v", prep)
	}
	prepareCmd, _, err := btrfsdapp.NewCommand().Find([]string{"prepare"})
	if err != nil {
		t.Fatal(err)
	}
	checkCobraFlags(t, "btrfsd prepare", prepareCmd, prep.Args[1:])
	n := container(t, spec, "node")
	// prepare mounts pools for the host to see, under their parent
	// directory: a pool path mounted into its container would be a mount
	// point there already, which prepare refuses. The node plugin sees them.
	if m, v := mountAt(t, spec, prep, "/mnt"); *m.MountPropagation != corev1.MountPropagationBidirectional || v.HostPath == nil || v.HostPath.Path != "/mnt" {
		t.Errorf("btrfsd-prepare mounts the pools' parent /mnt with %v from %+v", *m.MountPropagation, v.VolumeSource)
	}
	for _, p := range []string{"/mnt/fast", "/mnt/slow"} {
		if hasMountAt(prep, p) {
			t.Errorf("btrfsd-prepare mounts the pool path %s itself", p)
		}
		mountAt(t, spec, n, p)
	}
	if !hasMountAt(prep, "/dev") {
		t.Error("btrfsd-prepare does not mount /dev")
	}
	// A refused device must not keep the node plugin from serving the pools
	// that exist; the operator's agent reads the report on the host.
	wantArgs(t, prep, "--keep-going", "--report-file=/run/toposuite/prepare/btrfsd.json")
	if _, v := mountAt(t, spec, prep, "/run/toposuite/prepare"); v.HostPath == nil || v.HostPath.Path != "/run/toposuite/prepare" {
		t.Errorf("btrfsd-prepare's report directory is %+v, want the host's /run/toposuite/prepare", v)
	}
	cfg := btrfsdConfig(t, r, "ls-topols-btrfsd")
	if len(cfg.Pools) != 2 {
		t.Errorf("pools %+v", cfg.Pools)
	}
	sc := get[storagev1.StorageClass](t, r, "StorageClass", "ls-fast")
	if sc.Parameters["topols.io/device-class"] != "fast" || sc.Parameters["csi.storage.k8s.io/fstype"] != "btrfs" {
		t.Errorf("StorageClass parameters %v", sc.Parameters)
	}
}
