package charts_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/toposuite/toposuite/scheduler"
)

func TestChartsScheduler(t *testing.T) {
	t.Parallel()
	r := render(t, "topolvm-scheduler", "topolvm-scheduler", "topolvm-system", map[string]any{
		"replicas": 3, "listenPort": 9300, "config": map[string]any{"scoring": "binpack", "divisor": "4Gi"},
		"service": map[string]any{"clusterIP": "10.96.0.251"},
	})
	d := get[appsv1.Deployment](t, r, "Deployment", "topolvm-scheduler")
	if *d.Spec.Replicas != 3 {
		t.Errorf("replicas %d", *d.Spec.Replicas)
	}
	c := container(t, d.Spec.Template.Spec, "scheduler")
	if c.Ports[0].ContainerPort != 9300 || c.Image != "toposuite/topolvm-scheduler:"+appVersion(t, "topolvm-scheduler") {
		t.Errorf("container %+v", c)
	}
	cm := get[corev1.ConfigMap](t, r, "ConfigMap", "topolvm-scheduler")
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(cm.Data["config.yaml"]), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg["listen"] != ":9300" || cfg["scoring"] != "binpack" {
		t.Errorf("config.yaml %v", cfg)
	}
	// The rendered file is one the extender accepts.
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(cm.Data["config.yaml"]), 0o600); err != nil {
		t.Fatal(err)
	}
	if sc, err := scheduler.LoadFile(path); err != nil || sc.Validate() != nil || sc.Divisor.String() != "4Gi" {
		t.Errorf("the extender rejects the rendered config: %v", err)
	}
	if _, v := mountAt(t, d.Spec.Template.Spec, c, "/etc/topolvm-scheduler"); v.ConfigMap == nil || v.ConfigMap.Name != "topolvm-scheduler" {
		t.Errorf("config volume %+v", v.VolumeSource)
	}
	svc := get[corev1.Service](t, r, "Service", "topolvm-scheduler")
	if svc.Spec.Ports[0].Port != 9300 || svc.Spec.ClusterIP != "10.96.0.251" {
		t.Errorf("Service %+v", svc.Spec)
	}
	checkNamespaces(t, r, "topolvm-system")
	if len(r.ofKind("MutatingWebhookConfiguration")) != 0 {
		t.Error("the scheduler chart renders a webhook")
	}
	// The extender only reads.
	role := get[rbacv1.ClusterRole](t, r, "ClusterRole", "topolvm-scheduler")
	for _, rule := range role.Rules {
		if strings.Join(rule.Verbs, ",") != "get,list,watch" {
			t.Errorf("rule %+v writes", rule)
		}
	}
	if b := get[rbacv1.ClusterRoleBinding](t, r, "ClusterRoleBinding", "topolvm-scheduler"); b.Subjects[0].Name != d.Spec.Template.Spec.ServiceAccountName {
		t.Errorf("binding %+v", b)
	}
	if c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("readiness probe %+v", c.ReadinessProbe)
	}
}

// The sample kube-scheduler configuration points at the chart's defaults.
func TestChartsSchedulerSampleConfig(t *testing.T) {
	data, err := os.ReadFile("../scheduler/scheduler-config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Extenders  []struct {
			URLPrefix        string `json:"urlPrefix"`
			FilterVerb       string `json:"filterVerb"`
			ManagedResources []struct {
				Name               string `json:"name"`
				IgnoredByScheduler bool   `json:"ignoredByScheduler"`
			} `json:"managedResources"`
		} `json:"extenders"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.APIVersion != "kubescheduler.config.k8s.io/v1" || cfg.Kind != "KubeSchedulerConfiguration" || len(cfg.Extenders) != 1 {
		t.Fatalf("not a KubeSchedulerConfiguration with one extender: %+v", cfg)
	}
	port := chartListenPort(t)
	e := cfg.Extenders[0]
	if !strings.HasSuffix(e.URLPrefix, ":"+strconv.Itoa(port)) {
		t.Errorf("urlPrefix %q does not use the chart's listenPort %d", e.URLPrefix, port)
	}
	names := map[string]bool{}
	for _, m := range e.ManagedResources {
		names[m.Name] = m.IgnoredByScheduler
	}
	if !names["topolvm.io/capacity"] || !names["topols.io/capacity"] {
		t.Errorf("managedResources %v: want both drivers' capacity, ignored by the scheduler", names)
	}
}

// chartListenPort is the listenPort of the topolvm-scheduler chart's values.
func chartListenPort(t *testing.T) int {
	t.Helper()
	values, err := os.ReadFile("topolvm-scheduler/values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		ListenPort int `json:"listenPort"`
	}
	if err := yaml.Unmarshal(values, &v); err != nil {
		t.Fatal(err)
	}
	return v.ListenPort
}
