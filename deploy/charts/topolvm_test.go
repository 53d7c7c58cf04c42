package charts_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"

	controllerapp "github.com/toposuite/toposuite/cmd/topolvm-controller/app"
	nodeapp "github.com/toposuite/toposuite/cmd/topolvm-node/app"
	lvmdconfig "github.com/toposuite/toposuite/lvmd/config"
)

func container(t testing.TB, spec corev1.PodSpec, name string) corev1.Container {
	t.Helper()
	for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no container %q", name)
	return corev1.Container{}
}

func hasContainer(spec corev1.PodSpec, name string) bool {
	return slices.ContainsFunc(slices.Concat(spec.InitContainers, spec.Containers), func(c corev1.Container) bool { return c.Name == name })
}

func volume(t testing.TB, spec corev1.PodSpec, name string) corev1.Volume {
	t.Helper()
	for _, v := range spec.Volumes {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("no volume %q", name)
	return corev1.Volume{}
}

// mountAt returns the container's mount at path and the volume behind it.
func mountAt(t testing.TB, spec corev1.PodSpec, c corev1.Container, path string) (corev1.VolumeMount, corev1.Volume) {
	t.Helper()
	for _, m := range c.VolumeMounts {
		if m.MountPath == path {
			return m, volume(t, spec, m.Name)
		}
	}
	t.Fatalf("container %s mounts nothing at %s", c.Name, path)
	return corev1.VolumeMount{}, corev1.Volume{}
}

func hasMountAt(c corev1.Container, path string) bool {
	return slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == path })
}

func wantArgs(t testing.TB, c corev1.Container, want ...string) {
	t.Helper()
	for _, w := range want {
		if !slices.Contains(c.Args, w) {
			t.Errorf("container %s: no arg %q in %q", c.Name, w, c.Args)
		}
	}
}

func noArgPrefix(t testing.TB, c corev1.Container, prefix string) {
	t.Helper()
	for _, a := range c.Args {
		if strings.HasPrefix(a, prefix) {
			t.Errorf("container %s: unexpected arg %q", c.Name, a)
		}
	}
}

func privileged(c corev1.Container) bool {
	return c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged
}

func wantNodeName(t testing.TB, c corev1.Container) {
	t.Helper()
	for _, e := range c.Env {
		if e.Name == "NODE_NAME" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "spec.nodeName" {
			return
		}
	}
	t.Errorf("container %s: NODE_NAME does not come from spec.nodeName: %v", c.Name, c.Env)
}

func wantHealthProbes(t testing.TB, c corev1.Container, port string) {
	t.Helper()
	for what, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Port.String() != port {
			t.Errorf("container %s: %s probe is not an HTTP GET on port %s: %+v", c.Name, what, port, p)
		}
	}
}

// lvmdConfig decodes a ConfigMap's lvmd.yaml with lvmd's own strict loader
// and validation, as lvmd does at start.
func lvmdConfig(t testing.TB, r *rendered, name string) *lvmdconfig.Config {
	t.Helper()
	cm := get[corev1.ConfigMap](t, r, "ConfigMap", name)
	cfg, err := lvmdconfig.Parse([]byte(cm.Data["lvmd.yaml"]))
	if err != nil {
		t.Fatalf("lvmd refuses the rendered config: %v\n%s", err, cm.Data["lvmd.yaml"])
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("lvmd refuses the rendered config: %v\n%s", err, cm.Data["lvmd.yaml"])
	}
	return cfg
}

// checkController checks what every driver's controller Deployment has.
func checkController(t *testing.T, r *rendered, name, driver, storage string) *appsv1.Deployment {
	t.Helper()
	d := get[appsv1.Deployment](t, r, "Deployment", name)
	spec := d.Spec.Template.Spec
	ctl := container(t, spec, "controller")
	wantArgs(t, ctl, "--driver-name="+driver, "--storage="+storage, "--csi-socket=/run/csi/csi.sock", "--leader-election=true",
		"--fast-binding=false", "--kube-api-qps=200", "--kube-api-burst=500")
	checkCobraFlags(t, "controller", controllerapp.NewCommand(), ctl.Args)
	wantHealthProbes(t, ctl, "health")
	if spec.ServiceAccountName != name {
		t.Errorf("serviceAccountName %q, want %q", spec.ServiceAccountName, name)
	}
	if sc := spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Errorf("controller pod may run as root: %+v", sc)
	}

	p := container(t, spec, "csi-provisioner")
	wantArgs(t, p, "--csi-address=/run/csi/csi.sock", "--leader-election", "--feature-gates=Topology=true", "--strict-topology",
		"--extra-create-metadata", "--enable-capacity", "--capacity-ownerref-level=2", "--kube-api-qps=100", "--kube-api-burst=200",
		"--worker-threads=100")
	checkSidecarFlags(t, "csi-provisioner", p.Args)
	env := map[string]string{}
	for _, e := range p.Env {
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			env[e.Name] = e.ValueFrom.FieldRef.FieldPath
		}
	}
	if diff := cmp.Diff(map[string]string{"POD_NAME": "metadata.name", "NAMESPACE": "metadata.namespace"}, env); diff != "" {
		t.Errorf("csi-provisioner env for capacity tracking (-want +got):\n%s", diff)
	}
	// Every container reaches the socket on the same volume.
	for _, c := range spec.Containers {
		m, v := mountAt(t, spec, c, "/run/csi")
		if v.EmptyDir == nil {
			t.Errorf("container %s: socket volume %s is not an emptyDir", c.Name, m.Name)
		}
		if c.Name != "controller" {
			wantArgs(t, c, "--csi-address=/run/csi/csi.sock", "--leader-election")
		}
	}
	return d
}

// checkNode checks what every driver's node DaemonSet has.
func checkNode(t *testing.T, r *rendered, name, driver, kubeletDir string) *appsv1.DaemonSet {
	t.Helper()
	ds := get[appsv1.DaemonSet](t, r, "DaemonSet", name)
	spec := ds.Spec.Template.Spec
	n := container(t, spec, "node")
	if !privileged(n) {
		t.Error("node container is not privileged")
	}
	m, v := mountAt(t, spec, n, kubeletDir)
	if m.MountPropagation == nil || *m.MountPropagation != corev1.MountPropagationBidirectional {
		t.Errorf("kubelet dir mount propagation %v, want Bidirectional", m.MountPropagation)
	}
	if v.HostPath == nil || v.HostPath.Path != kubeletDir {
		t.Errorf("kubelet dir volume %+v, want hostPath %s", v.VolumeSource, kubeletDir)
	}
	if _, v := mountAt(t, spec, n, "/dev"); v.HostPath == nil || v.HostPath.Path != "/dev" {
		t.Errorf("/dev volume %+v, want hostPath /dev", v.VolumeSource)
	}
	wantNodeName(t, n)
	wantHealthProbes(t, n, "health")
	wantArgs(t, n, "--driver-name="+driver, "--kubelet-dir="+kubeletDir,
		"--csi-socket="+kubeletDir+"/plugins/"+driver+"/node/csi.sock")
	if spec.PriorityClassName != "system-node-critical" {
		t.Errorf("priorityClassName %q", spec.PriorityClassName)
	}
	return ds
}

func checkCSIDriver(t *testing.T, r *rendered, driver string) {
	t.Helper()
	d := get[storagev1.CSIDriver](t, r, "CSIDriver", driver)
	if d.Spec.AttachRequired == nil || *d.Spec.AttachRequired {
		t.Error("attachRequired is not false")
	}
	if d.Spec.StorageCapacity == nil || !*d.Spec.StorageCapacity {
		t.Error("storageCapacity is not true")
	}
	if d.Spec.PodInfoOnMount == nil || !*d.Spec.PodInfoOnMount {
		t.Error("podInfoOnMount is not true (ephemeral volumes need it)")
	}
	if d.Spec.FSGroupPolicy == nil || *d.Spec.FSGroupPolicy != storagev1.FileFSGroupPolicy {
		t.Errorf("fsGroupPolicy %v, want File", d.Spec.FSGroupPolicy)
	}
	want := []storagev1.VolumeLifecycleMode{storagev1.VolumeLifecyclePersistent, storagev1.VolumeLifecycleEphemeral}
	if diff := cmp.Diff(want, d.Spec.VolumeLifecycleModes); diff != "" {
		t.Errorf("volumeLifecycleModes (-want +got):\n%s", diff)
	}
}

func TestChartsTopolvmDefaults(t *testing.T) {
	t.Parallel()
	r := render(t, "topolvm", "topolvm", "topolvm-system", nil)
	tag := appVersion(t, "topolvm")

	checkCSIDriver(t, r, "topolvm.io")

	d := checkController(t, r, "topolvm-controller", "topolvm.io", "lvm")
	spec := d.Spec.Template.Spec
	for _, name := range []string{"csi-resizer", "csi-snapshotter"} {
		c := container(t, spec, name)
		checkSidecarFlags(t, name, c.Args)
	}
	if got := container(t, spec, "controller").Image; got != "toposuite/topolvm-controller:"+tag {
		t.Errorf("controller image %q", got)
	}
	if got := container(t, spec, "csi-provisioner").Image; got != "registry.k8s.io/sig-storage/csi-provisioner:v6.3.0" {
		t.Errorf("csi-provisioner image %q", got)
	}

	ds := checkNode(t, r, "topolvm-node", "topolvm.io", "/var/lib/kubelet")
	nspec := ds.Spec.Template.Spec
	n := container(t, nspec, "node")
	if n.Image != "toposuite/topolvm-node:"+tag || n.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("node image %q policy %q", n.Image, n.ImagePullPolicy)
	}
	// lvmd embedded, LVM run in the host's namespaces: hostPID.
	wantArgs(t, n, "--lvmd-config=/etc/topolvm/lvmd.yaml")
	noArgPrefix(t, n, "--lvmd-socket")
	if !nspec.HostPID {
		t.Error("embedded lvmd's nsenter -t 1 needs hostPID")
	}
	if _, v := mountAt(t, nspec, n, "/etc/topolvm"); v.ConfigMap == nil || v.ConfigMap.Name != "topolvm-lvmd" {
		t.Errorf("lvmd config volume %+v", v.VolumeSource)
	}
	cfg := lvmdConfig(t, r, "topolvm-lvmd")
	if cfg.MetricsAddress != "" {
		t.Errorf("embedded lvmd serves metrics on %q: the node plugin exports them", cfg.MetricsAddress)
	}
	if _, ok := ds.Spec.Template.Annotations["checksum/config"]; !ok {
		t.Error("node pods do not restart when lvmd's config changes (no checksum/config)")
	}
	// Registration by the plugin itself, no registrar sidecar.
	wantArgs(t, n, "--kubelet-registration-path=/var/lib/kubelet/plugins/topolvm.io/node/csi.sock")
	if hasContainer(nspec, "node-driver-registrar") {
		t.Error("node-driver-registrar rendered with registration self")
	}
	checkCobraFlags(t, "node", nodeapp.NewCommand(), n.Args)
	if r.find("DaemonSet", "topolvm-lvmd") != nil {
		t.Error("lvmd DaemonSet rendered with lvmd.mode embedded")
	}

	sc := get[storagev1.StorageClass](t, r, "StorageClass", "topolvm-provisioner")
	if sc.Provisioner != "topolvm.io" || sc.Parameters["csi.storage.k8s.io/fstype"] != "ext4" {
		t.Errorf("StorageClass %+v", sc)
	}
	if _, ok := sc.Parameters["topolvm.io/device-class"]; ok {
		t.Error("an empty device class is passed as a parameter")
	}
	if sc.VolumeBindingMode == nil || *sc.VolumeBindingMode != storagev1.VolumeBindingWaitForFirstConsumer {
		t.Errorf("volumeBindingMode %v", sc.VolumeBindingMode)
	}
	if sc.AllowVolumeExpansion == nil || !*sc.AllowVolumeExpansion {
		t.Error("volume expansion not allowed")
	}

	for _, svc := range []string{"topolvm-controller-metrics", "topolvm-node-metrics"} {
		s := get[corev1.Service](t, r, "Service", svc)
		if s.Spec.Ports[0].Name != "metrics" {
			t.Errorf("Service %s ports %+v", svc, s.Spec.Ports)
		}
	}
	if s := get[corev1.Service](t, r, "Service", "topolvm-node-metrics"); s.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Error("node metrics Service is not headless: a scraper would not reach every node")
	}

	checkRBAC(t, r, "topolvm.io", "controller", "provisioner", "resizer", "snapshotter", "node")
	checkNamespaces(t, r, "topolvm-system")
}

func TestChartsTopolvmLvmdDaemonSetAndRegistrar(t *testing.T) {
	t.Parallel()
	kubeletDir := "/var/lib/k0s/kubelet"
	r := render(t, "topolvm", "lvm", "storage", map[string]any{
		"driverName":      "lvm.example.com",
		"imagePullPolicy": "Never",
		"controller": map[string]any{
			"image":       map[string]any{"repository": "local/controller", "tag": "dev"},
			"resizer":     map[string]any{"enabled": false},
			"snapshotter": map[string]any{"enabled": false},
			"provisioner": map[string]any{"image": map[string]any{"repository": "local/csi-provisioner", "tag": "dev"}, "workerThreads": 16},
		},
		"node": map[string]any{
			"kubeletDir":   kubeletDir,
			"registration": "sidecar",
			"registrar":    map[string]any{"image": map[string]any{"repository": "local/registrar", "tag": "v9"}},
			"nodeSelector": map[string]any{"storage": "lvm"},
		},
		"lvmd": map[string]any{
			"mode":      "daemonset",
			"socketDir": "/run/lvmd-test",
			"prepare":   map[string]any{"enabled": true},
			"config": map[string]any{
				"deviceClasses": []any{
					map[string]any{"name": "hdd", "volumeGroup": "vg-hdd", "default": true},
					map[string]any{"name": "nvme", "volumeGroup": "vg-nvme", "spare": "1Gi"},
				},
				"volumeGroups": []any{map[string]any{"name": "vg-nvme", "devices": []any{"/dev/nvme1n1"}}},
			},
		},
		"storageClasses": []any{
			map[string]any{"name": "lvm-xfs", "deviceClass": "nvme", "fsType": "xfs", "lvcreateOptionClass": "raid1", "isDefault": true,
				"reclaimPolicy": "Retain", "volumeBindingMode": "Immediate", "mountOptions": []any{"noatime"},
				"parameters": map[string]any{"example.com/extra": "1"}},
			map[string]any{"name": "lvm-ext4"},
		},
	})

	d := checkControllerNonDefault(t, r, "lvm-topolvm-controller")
	spec := d.Spec.Template.Spec
	if hasContainer(spec, "csi-resizer") || hasContainer(spec, "csi-snapshotter") {
		t.Error("disabled sidecars rendered")
	}
	wantArgs(t, container(t, spec, "csi-provisioner"), "--worker-threads=16")
	if img := container(t, spec, "csi-provisioner").Image; img != "local/csi-provisioner:dev" {
		t.Errorf("csi-provisioner image %q", img)
	}
	for _, c := range spec.Containers {
		if c.ImagePullPolicy != corev1.PullNever {
			t.Errorf("container %s pull policy %q, want Never", c.Name, c.ImagePullPolicy)
		}
	}
	// A disabled sidecar takes its rights with it.
	checkRBAC(t, r, "lvm.example.com", "controller", "provisioner", "node")
	prov := get[rbacv1.ClusterRole](t, r, "ClusterRole", "lvm.example.com:provisioner")
	for _, rule := range prov.Rules {
		if slices.Contains(rule.APIGroups, "snapshot.storage.k8s.io") {
			t.Errorf("provisioner may read snapshots with the snapshotter disabled: %+v", rule)
		}
	}

	ds := checkNode(t, r, "lvm-topolvm-node", "lvm.example.com", kubeletDir)
	nspec := ds.Spec.Template.Spec
	n := container(t, nspec, "node")
	wantArgs(t, n, "--lvmd-socket=/run/lvmd-test/lvmd.sock")
	noArgPrefix(t, n, "--lvmd-config")
	noArgPrefix(t, n, "--kubelet-registration-path")
	if nspec.HostPID {
		t.Error("node pod shares the host PID namespace though lvmd runs elsewhere")
	}
	if _, v := mountAt(t, nspec, n, "/run/lvmd-test"); v.HostPath == nil || v.HostPath.Path != "/run/lvmd-test" {
		t.Errorf("lvmd socket dir volume %+v", v.VolumeSource)
	}
	if hasContainer(nspec, "lvmd-prepare") {
		t.Error("the node pod runs lvmd prepare though lvmd runs in its own DaemonSet")
	}
	checkCobraFlags(t, "node", nodeapp.NewCommand(), n.Args)
	reg := container(t, nspec, "node-driver-registrar")
	if reg.Image != "local/registrar:v9" {
		t.Errorf("registrar image %q", reg.Image)
	}
	wantArgs(t, reg, "--csi-address=/csi/csi.sock", "--kubelet-registration-path="+kubeletDir+"/plugins/lvm.example.com/node/csi.sock")
	if _, v := mountAt(t, nspec, reg, "/registration"); v.HostPath == nil || v.HostPath.Path != kubeletDir+"/plugins_registry" {
		t.Errorf("registration dir %+v", v.VolumeSource)
	}
	if _, v := mountAt(t, nspec, reg, "/csi"); v.HostPath == nil || v.HostPath.Path != kubeletDir+"/plugins/lvm.example.com/node" {
		t.Errorf("plugin dir %+v", v.VolumeSource)
	}

	// lvmd's own DaemonSet, on the same nodes as the node plugin.
	lds := get[appsv1.DaemonSet](t, r, "DaemonSet", "lvm-topolvm-lvmd")
	lspec := lds.Spec.Template.Spec
	l := container(t, lspec, "lvmd")
	if !privileged(l) || !lspec.HostPID {
		t.Errorf("lvmd privileged=%v hostPID=%v", privileged(l), lspec.HostPID)
	}
	if diff := cmp.Diff(nspec.NodeSelector, lspec.NodeSelector); diff != "" {
		t.Errorf("lvmd and the node plugin run on different nodes (-node +lvmd):\n%s", diff)
	}
	for _, p := range []string{"/dev", "/run/lvm", "/etc/lvm", "/run/lvmd-test"} {
		if _, v := mountAt(t, lspec, l, p); v.HostPath == nil || v.HostPath.Path != p {
			t.Errorf("lvmd mount %s: %+v", p, v.VolumeSource)
		}
	}
	wantNodeName(t, l)
	wantHealthProbes(t, l, "metrics")
	lvmdCmd := lvmdCommand()
	checkCobraFlags(t, "lvmd", lvmdCmd, l.Args)
	prep := container(t, lspec, "lvmd-prepare")
	if len(lspec.InitContainers) != 1 || lspec.InitContainers[0].Name != "lvmd-prepare" || len(prep.Args) == 0 || prep.Args[0] != "prepare" || !privileged(prep) {
		t.Errorf("lvmd-prepare init container %+v", prep)
	}
	prepareCmd, _, err := lvmdCmd.Find([]string{"prepare"})
	if err != nil {
		t.Fatal(err)
	}
	checkCobraFlags(t, "lvmd prepare", prepareCmd, prep.Args[1:])
	cfg := lvmdConfig(t, r, "lvm-topolvm-lvmd")
	if cfg.SocketName != "/run/lvmd-test/lvmd.sock" || cfg.MetricsAddress != ":9280" {
		t.Errorf("lvmd config socket %q metrics %q", cfg.SocketName, cfg.MetricsAddress)
	}
	if len(cfg.DeviceClasses) != 2 || len(cfg.VolumeGroups) != 1 {
		t.Errorf("lvmd config %+v", cfg)
	}
	if s := get[corev1.Service](t, r, "Service", "lvm-topolvm-lvmd-metrics"); s.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Error("lvmd metrics Service is not headless")
	}
	sa := get[corev1.ServiceAccount](t, r, "ServiceAccount", "lvm-topolvm-lvmd")
	if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
		t.Error("lvmd gets an API token it has no use for")
	}

	sc := get[storagev1.StorageClass](t, r, "StorageClass", "lvm-xfs")
	want := map[string]string{
		"csi.storage.k8s.io/fstype":             "xfs",
		"lvm.example.com/device-class":          "nvme",
		"lvm.example.com/lvcreate-option-class": "raid1",
		"example.com/extra":                     "1",
	}
	if diff := cmp.Diff(want, sc.Parameters); diff != "" {
		t.Errorf("StorageClass parameters (-want +got):\n%s", diff)
	}
	if sc.Provisioner != "lvm.example.com" || sc.Annotations["storageclass.kubernetes.io/is-default-class"] != "true" ||
		*sc.ReclaimPolicy != corev1.PersistentVolumeReclaimRetain || *sc.VolumeBindingMode != storagev1.VolumeBindingImmediate ||
		!slices.Equal(sc.MountOptions, []string{"noatime"}) {
		t.Errorf("StorageClass lvm-xfs %+v", sc)
	}
	// Unset keys get the driver's defaults.
	sc = get[storagev1.StorageClass](t, r, "StorageClass", "lvm-ext4")
	if sc.Parameters["csi.storage.k8s.io/fstype"] != "ext4" || *sc.ReclaimPolicy != corev1.PersistentVolumeReclaimDelete ||
		*sc.VolumeBindingMode != storagev1.VolumeBindingWaitForFirstConsumer || !*sc.AllowVolumeExpansion {
		t.Errorf("StorageClass lvm-ext4 defaults %+v", sc)
	}
	checkCSIDriver(t, r, "lvm.example.com")
	checkNamespaces(t, r, "storage")
}

// checkControllerNonDefault checks the parts of a controller rendered with other images.
func checkControllerNonDefault(t *testing.T, r *rendered, name string) *appsv1.Deployment {
	t.Helper()
	d := get[appsv1.Deployment](t, r, "Deployment", name)
	ctl := container(t, d.Spec.Template.Spec, "controller")
	if ctl.Image != "local/controller:dev" {
		t.Errorf("controller image %q", ctl.Image)
	}
	wantArgs(t, ctl, "--driver-name=lvm.example.com", "--storage=lvm")
	return d
}

func TestChartsTopolvmExternalLvmd(t *testing.T) {
	t.Parallel()
	r := render(t, "topolvm", "topolvm", "topolvm-system", map[string]any{"lvmd": map[string]any{"mode": "external"}})
	n := container(t, get[appsv1.DaemonSet](t, r, "DaemonSet", "topolvm-node").Spec.Template.Spec, "node")
	// The lvmd chart's default socket.
	lr := render(t, "lvmd", "lvmd", "lvmd-system", nil)
	socket := lvmdConfig(t, lr, "lvmd").SocketName
	wantArgs(t, n, "--lvmd-socket="+socket)
	for _, kind := range []string{"DaemonSet", "ConfigMap"} {
		if r.find(kind, "topolvm-lvmd") != nil {
			t.Errorf("%s topolvm-lvmd rendered with lvmd.mode external", kind)
		}
	}
}

func TestChartsTopolvmPrepareEmbedded(t *testing.T) {
	t.Parallel()
	r := render(t, "topolvm", "topolvm", "topolvm-system", map[string]any{"lvmd": map[string]any{"prepare": map[string]any{"enabled": true}}})
	spec := get[appsv1.DaemonSet](t, r, "DaemonSet", "topolvm-node").Spec.Template.Spec
	if len(spec.InitContainers) != 1 || spec.InitContainers[0].Name != "lvmd-prepare" {
		t.Fatalf("init containers %+v", spec.InitContainers)
	}
	prep := spec.InitContainers[0]
	if prep.Image != "toposuite/lvmd:"+appVersion(t, "topolvm") || !privileged(prep) {
		t.Errorf("lvmd-prepare %+v", prep)
	}
	for _, p := range []string{"/dev", "/etc/topolvm", "/run/lvm", "/etc/lvm"} {
		if !hasMountAt(prep, p) {
			t.Errorf("lvmd-prepare does not mount %s", p)
		}
	}
	// A refused device must not keep lvmd from serving the volume groups
	// that exist; the operator's agent reads the report on the host.
	wantArgs(t, prep, "--keep-going", "--report-file=/run/toposuite/prepare/lvmd.json")
	if _, v := mountAt(t, spec, prep, "/run/toposuite/prepare"); v.HostPath == nil || v.HostPath.Path != "/run/toposuite/prepare" {
		t.Errorf("lvmd-prepare's report directory is %+v, want the host's /run/toposuite/prepare", v)
	}
}

// checkRBAC checks the driver's ClusterRoles and bindings: named after the
// driver, bound to ServiceAccounts of the release, no wildcards, no
// Secrets, and a node plugin that cannot create or delete volumes.
func checkRBAC(t *testing.T, r *rendered, driver string, roles ...string) {
	t.Helper()
	var got []string
	for _, o := range r.ofKind("ClusterRole") {
		got = append(got, o.GetName())
	}
	var want []string
	for _, role := range roles {
		want = append(want, driver+":"+role)
	}
	slices.Sort(got)
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ClusterRoles (-want +got):\n%s", diff)
	}
	for _, o := range slices.Concat(r.ofKind("ClusterRole"), r.ofKind("Role")) {
		role := convert[rbacv1.ClusterRole](t, o)
		for _, rule := range role.Rules {
			for _, s := range slices.Concat(rule.Verbs, rule.Resources, rule.APIGroups) {
				if s == "*" {
					t.Errorf("%s %s grants a wildcard: %+v", o.GetKind(), o.GetName(), rule)
				}
			}
			if slices.Contains(rule.Resources, "secrets") {
				t.Errorf("%s %s grants Secrets: %+v", o.GetKind(), o.GetName(), rule)
			}
		}
	}
	node := get[rbacv1.ClusterRole](t, r, "ClusterRole", driver+":node")
	for _, rule := range node.Rules {
		if slices.Contains(rule.Resources, "logicalvolumes") && (slices.Contains(rule.Verbs, "create") || slices.Contains(rule.Verbs, "delete")) {
			t.Errorf("the node plugin may create or delete LogicalVolumes: %+v", rule)
		}
	}
	for _, o := range slices.Concat(r.ofKind("ClusterRoleBinding"), r.ofKind("RoleBinding")) {
		b := convert[rbacv1.ClusterRoleBinding](t, o)
		if r.find(b.RoleRef.Kind, b.RoleRef.Name) == nil {
			t.Errorf("%s %s refers to %s %s, which is not rendered", o.GetKind(), o.GetName(), b.RoleRef.Kind, b.RoleRef.Name)
		}
		for _, s := range b.Subjects {
			sa := r.find("ServiceAccount", s.Name)
			if s.Kind != "ServiceAccount" || sa == nil || sa.GetNamespace() != s.Namespace {
				t.Errorf("%s %s binds %+v, not a ServiceAccount of the release", o.GetKind(), o.GetName(), s)
			}
		}
	}
}

// clusterScoped are the kinds the charts render without a namespace.
var clusterScoped = map[string]bool{
	"ClusterRole": true, "ClusterRoleBinding": true, "CSIDriver": true, "StorageClass": true,
	"PriorityClass": true, "CustomResourceDefinition": true, "MutatingWebhookConfiguration": true,
	"ValidatingAdmissionPolicy": true, "ValidatingAdmissionPolicyBinding": true,
}

// checkNamespaces checks that namespaced objects carry the release
// namespace (so that rendered output applies as is) and cluster-scoped ones none.
func checkNamespaces(t *testing.T, r *rendered, namespace string) {
	t.Helper()
	for _, o := range r.objs {
		want := namespace
		if clusterScoped[o.GetKind()] {
			want = ""
		}
		if o.GetNamespace() != want {
			t.Errorf("%s %s: namespace %q, want %q", o.GetKind(), o.GetName(), o.GetNamespace(), want)
		}
	}
}
