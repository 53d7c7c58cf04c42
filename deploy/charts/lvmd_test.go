package charts_test

import (
	"testing"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	lvmdapp "github.com/toposuite/toposuite/cmd/lvmd/app"
)

func lvmdCommand() *cobra.Command { return lvmdapp.NewCommand() }

func TestChartsLvmd(t *testing.T) {
	t.Parallel()
	r := render(t, "lvmd", "lvmd", "lvmd-system", map[string]any{"imagePullPolicy": "Never", "tolerations": []any{map[string]any{"operator": "Exists"}}})
	ds := get[appsv1.DaemonSet](t, r, "DaemonSet", "lvmd")
	spec := ds.Spec.Template.Spec
	l := container(t, spec, "lvmd")
	if l.Image != "toposuite/lvmd:"+appVersion(t, "lvmd") || l.ImagePullPolicy != corev1.PullNever {
		t.Errorf("lvmd image %q policy %q", l.Image, l.ImagePullPolicy)
	}
	if !privileged(l) || !spec.HostPID {
		t.Errorf("lvmd privileged=%v hostPID=%v", privileged(l), spec.HostPID)
	}
	for _, p := range []string{"/dev", "/run/lvm", "/etc/lvm", "/run/topolvm"} {
		if _, v := mountAt(t, spec, l, p); v.HostPath == nil || v.HostPath.Path != p {
			t.Errorf("mount %s: %+v", p, v.VolumeSource)
		}
	}
	if len(spec.Tolerations) != 1 || spec.Tolerations[0].Operator != corev1.TolerationOpExists {
		t.Errorf("tolerations %+v", spec.Tolerations)
	}
	wantNodeName(t, l)
	wantHealthProbes(t, l, "metrics")
	checkCobraFlags(t, "lvmd", lvmdCommand(), l.Args)
	cfg := lvmdConfig(t, r, "lvmd")
	if cfg.SocketName != "/run/topolvm/lvmd.sock" || cfg.MetricsAddress != ":9280" {
		t.Errorf("socket %q metrics %q", cfg.SocketName, cfg.MetricsAddress)
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Error("lvmd gets an API token it has no use for")
	}
	for _, kind := range []string{"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "CSIDriver", "StorageClass"} {
		if len(r.ofKind(kind)) != 0 {
			t.Errorf("lvmd alone renders a %s", kind)
		}
	}
	checkNamespaces(t, r, "lvmd-system")

	// Without metrics: no port, no probes, no Service.
	r = render(t, "lvmd", "lvmd", "lvmd-system", map[string]any{"metrics": map[string]any{"enabled": false}})
	l = container(t, get[appsv1.DaemonSet](t, r, "DaemonSet", "lvmd").Spec.Template.Spec, "lvmd")
	if l.LivenessProbe != nil || len(l.Ports) != 0 || len(r.ofKind("Service")) != 0 {
		t.Errorf("metrics disabled but probes %v ports %v services %d", l.LivenessProbe, l.Ports, len(r.ofKind("Service")))
	}
	if cfg := lvmdConfig(t, r, "lvmd"); cfg.MetricsAddress != "" {
		t.Errorf("metrics disabled but lvmd serves them on %q", cfg.MetricsAddress)
	}
}
