package charts_test

import (
	"os"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

func TestChartsScheduler(t *testing.T) {
	t.Parallel()
	r := render(t, "topolvm-scheduler", "topolvm-scheduler", "topolvm-system", map[string]any{
		"replicas": 3, "listenPort": 9300, "config": map[string]any{"defaultDivisor": 5},
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
	if cfg["listen"] != ":9300" || cfg["defaultDivisor"] != float64(5) {
		t.Errorf("config.yaml %v", cfg)
	}
	if _, v := mountAt(t, d.Spec.Template.Spec, c, "/etc/topolvm-scheduler"); v.ConfigMap == nil || v.ConfigMap.Name != "topolvm-scheduler" {
		t.Errorf("config volume %+v", v.VolumeSource)
	}
	svc := get[corev1.Service](t, r, "Service", "topolvm-scheduler")
	if svc.Spec.Ports[0].Port != 9300 || svc.Spec.ClusterIP != "10.96.0.251" {
		t.Errorf("Service %+v", svc.Spec)
	}
	checkNamespaces(t, r, "topolvm-system")
	for _, kind := range []string{"ClusterRole", "MutatingWebhookConfiguration"} {
		if len(r.ofKind(kind)) != 0 {
			t.Errorf("the scheduler chart renders a %s", kind)
		}
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
	e := cfg.Extenders[0]
	if !strings.HasSuffix(e.URLPrefix, ":"+strconv.Itoa(v.ListenPort)) {
		t.Errorf("urlPrefix %q does not use the chart's listenPort %d", e.URLPrefix, v.ListenPort)
	}
	names := map[string]bool{}
	for _, m := range e.ManagedResources {
		names[m.Name] = m.IgnoredByScheduler
	}
	if !names["topolvm.io/capacity"] || !names["topols.io/capacity"] {
		t.Errorf("managedResources %v: want both drivers' capacity, ignored by the scheduler", names)
	}
}
