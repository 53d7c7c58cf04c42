package charts_test

import (
	"os"
	"path"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	schedulerapp "github.com/toposuite/toposuite/cmd/topolvm-scheduler/app"
	"github.com/toposuite/toposuite/scheduler"
)

// The extender's container has a memory request and limit by default,
// from values.yaml, and GOMEMLIMIT follows the limit; without a limit
// there is no GOMEMLIMIT.
func TestChartsSchedulerMemory(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("topolvm-scheduler/values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var values struct {
		Resources corev1.ResourceRequirements `json:"resources"`
	}
	if err := yaml.Unmarshal(data, &values); err != nil {
		t.Fatal(err)
	}
	limit, request := values.Resources.Limits.Memory(), values.Resources.Requests.Memory()
	if limit.IsZero() || request.IsZero() || request.Cmp(*limit) > 0 {
		t.Fatalf("values.yaml resources %+v: want a memory request and a limit at least as large", values.Resources)
	}
	// The two bodies the extender may hold at the default body limit, what
	// decoding each costs at most (BenchmarkRequestMemory's crafted
	// bodies: under 40 MB), and the 170 MB a live cluster's extender was
	// seen to use before any request.
	if most := 2*(scheduler.DefaultBodyLimit+40<<20) + 170<<20; limit.Value() < int64(most) {
		t.Errorf("memory limit %s: under the %d bytes the extender may need", limit, most)
	}

	r := render(t, "topolvm-scheduler", "topolvm-scheduler", "topolvm-system", nil)
	c := container(t, get[appsv1.Deployment](t, r, "Deployment", "topolvm-scheduler").Spec.Template.Spec, "scheduler")
	if !c.Resources.Limits.Memory().Equal(*limit) || !c.Resources.Requests.Memory().Equal(*request) {
		t.Errorf("container resources %+v, values.yaml %+v", c.Resources, values.Resources)
	}
	if env := goMemLimit(c); env == nil || env.ValueFrom == nil || env.ValueFrom.ResourceFieldRef == nil ||
		env.ValueFrom.ResourceFieldRef.Resource != "limits.memory" || !env.ValueFrom.ResourceFieldRef.Divisor.IsZero() {
		t.Errorf("GOMEMLIMIT %+v: want the container's limits.memory in bytes", env)
	}

	// Helm merges values into the defaults: a null drops a default.
	for _, res := range []map[string]any{{"limits": nil}, {"requests": map[string]any{"memory": "1Gi"}, "limits": nil}} {
		r = render(t, "topolvm-scheduler", "topolvm-scheduler", "topolvm-system", map[string]any{"resources": res})
		c = container(t, get[appsv1.Deployment](t, r, "Deployment", "topolvm-scheduler").Spec.Template.Spec, "scheduler")
		if env := goMemLimit(c); env != nil || !c.Resources.Limits.Memory().IsZero() {
			t.Errorf("resources %v: limit %v, GOMEMLIMIT %+v", res, c.Resources.Limits, env)
		}
	}
	r = render(t, "topolvm-scheduler", "topolvm-scheduler", "topolvm-system", map[string]any{"resources": map[string]any{"limits": map[string]any{"memory": "2Gi"}}})
	c = container(t, get[appsv1.Deployment](t, r, "Deployment", "topolvm-scheduler").Spec.Template.Spec, "scheduler")
	if want := resource.MustParse("2Gi"); !c.Resources.Limits.Memory().Equal(want) || goMemLimit(c) == nil {
		t.Errorf("a limit of 2Gi: %v, GOMEMLIMIT %+v", c.Resources.Limits, goMemLimit(c))
	}
}

func goMemLimit(c corev1.Container) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == "GOMEMLIMIT" {
			return &c.Env[i]
		}
	}
	return nil
}

// Plain HTTP by default; tls.* mounts the Secrets, passes the extender's
// flags for the mounted files, and names the port https for the probes
// and the Service.
func TestChartsSchedulerTLS(t *testing.T) {
	t.Parallel()
	r := render(t, "topolvm-scheduler", "topolvm-scheduler", "topolvm-system", nil)
	spec := get[appsv1.Deployment](t, r, "Deployment", "topolvm-scheduler").Spec.Template.Spec
	c := container(t, spec, "scheduler")
	for _, a := range c.Args {
		if strings.HasPrefix(a, "--tls") {
			t.Errorf("TLS by default: %q", c.Args)
		}
	}
	if c.Ports[0].Name != "http" || c.LivenessProbe.HTTPGet.Scheme != corev1.URISchemeHTTP || c.ReadinessProbe.HTTPGet.Scheme != corev1.URISchemeHTTP {
		t.Errorf("plain HTTP: port %+v, probes %+v %+v", c.Ports[0], c.LivenessProbe.HTTPGet, c.ReadinessProbe.HTTPGet)
	}

	r = render(t, "topolvm-scheduler", "topolvm-scheduler", "topolvm-system", map[string]any{"tls": map[string]any{
		"enabled": true, "secretName": "topolvm-scheduler-tls",
		"clientCA": map[string]any{"secretName": "topolvm-scheduler-ca", "key": "root.pem"},
	}})
	spec = get[appsv1.Deployment](t, r, "Deployment", "topolvm-scheduler").Spec.Template.Spec
	c = container(t, spec, "scheduler")
	checkCobraFlags(t, "topolvm-scheduler", schedulerapp.NewCommand(), c.Args)
	flags := map[string]string{}
	for _, a := range c.Args {
		if name, value, ok := strings.Cut(a, "="); ok {
			flags[name] = value
		}
	}
	// Each file flag names a file in the Secret volume mounted there.
	for flag, want := range map[string]struct{ secret, key string }{
		"--tls-cert-file": {"topolvm-scheduler-tls", "tls.crt"},
		"--tls-key-file":  {"topolvm-scheduler-tls", "tls.key"},
		"--tls-client-ca": {"topolvm-scheduler-ca", "root.pem"},
	} {
		file := flags[flag]
		if file == "" {
			t.Errorf("no %s in %q", flag, c.Args)
			continue
		}
		m, v := mountAt(t, spec, c, path.Dir(file))
		if v.Secret == nil || v.Secret.SecretName != want.secret || !m.ReadOnly || m.SubPath != "" {
			t.Errorf("%s=%s: mount %+v of %+v, want Secret %s mounted whole (updates reach it)", flag, file, m, v.VolumeSource, want.secret)
			continue
		}
		key := path.Base(file)
		for _, item := range v.Secret.Items {
			if item.Path == key {
				key = item.Key
			}
		}
		if key != want.key {
			t.Errorf("%s=%s is the Secret's key %q, want %q", flag, file, key, want.key)
		}
	}
	if c.Ports[0].Name != "https" {
		t.Errorf("port %+v", c.Ports[0])
	}
	for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe} {
		if p.HTTPGet.Scheme != corev1.URISchemeHTTPS || p.HTTPGet.Port != intstr.FromString("https") {
			t.Errorf("probe %+v", p.HTTPGet)
		}
	}
	svc := get[corev1.Service](t, r, "Service", "topolvm-scheduler")
	if p := svc.Spec.Ports[0]; p.Name != "https" || p.TargetPort != intstr.FromString("https") {
		t.Errorf("Service port %+v", p)
	}

	// HTTPS without client certificates.
	r = render(t, "topolvm-scheduler", "topolvm-scheduler", "topolvm-system", map[string]any{"tls": map[string]any{"enabled": true, "secretName": "s"}})
	c = container(t, get[appsv1.Deployment](t, r, "Deployment", "topolvm-scheduler").Spec.Template.Spec, "scheduler")
	wantArgs(t, c, "--tls-cert-file=/etc/topolvm-scheduler-tls/tls.crt", "--tls-key-file=/etc/topolvm-scheduler-tls/tls.key")
	noArgPrefix(t, c, "--tls-client-ca")

	if out, err := helm(t, "lint", "--strict", "topolvm-scheduler", "--set", "tls.enabled=true", "--set", "tls.secretName=s",
		"--set", "tls.clientCA.secretName=ca"); err != nil || strings.Contains(out, "[WARNING]") {
		t.Errorf("helm lint with TLS: %v\n%s", err, out)
	}
}

func TestChartsSchedulerTLSRejectsBadValues(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		values map[string]any
		want   string
	}{
		"no secret":           {map[string]any{"tls": map[string]any{"enabled": true}}, "tls.enabled needs tls.secretName"},
		"client CA, no TLS":   {map[string]any{"tls": map[string]any{"clientCA": map[string]any{"secretName": "ca"}}}, "tls.clientCA needs tls.enabled"},
		"unknown key":         {map[string]any{"tls": map[string]any{"certFile": "/x"}}, "additional properties 'certFile' not allowed"},
		"enabled not a bool":  {map[string]any{"tls": map[string]any{"enabled": "yes"}}, "/tls/enabled"},
		"empty client CA key": {map[string]any{"tls": map[string]any{"enabled": true, "secretName": "s", "clientCA": map[string]any{"secretName": "ca", "key": ""}}}, "/tls/clientCA/key"},
	} {
		_, err := templateErr(t, "topolvm-scheduler", "bad", "bad", c.values)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}

// extenderFields are the keys of kube-scheduler's Extender and
// ExtenderTLSConfig (k8s.io/kube-scheduler/config/v1), to catch a
// misspelt key kube-scheduler would ignore or refuse.
var extenderFields = map[string]bool{
	"urlPrefix": true, "filterVerb": true, "preemptVerb": true, "prioritizeVerb": true, "weight": true, "bindVerb": true,
	"enableHTTPS": true, "tlsConfig": true, "httpTimeout": true, "nodeCacheCapable": true, "managedResources": true, "ignorable": true,
}

var extenderTLSFields = map[string]bool{
	"insecure": true, "serverName": true, "certFile": true, "keyFile": true, "caFile": true, "certData": true, "keyData": true, "caData": true,
}

// sampleExtender reads the one extender of a sample configuration.
func sampleExtender(t *testing.T, file string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		APIVersion string           `json:"apiVersion"`
		Kind       string           `json:"kind"`
		Extenders  []map[string]any `json:"extenders"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if cfg.APIVersion != "kubescheduler.config.k8s.io/v1" || cfg.Kind != "KubeSchedulerConfiguration" || len(cfg.Extenders) != 1 {
		t.Fatalf("%s: not a KubeSchedulerConfiguration with one extender", file)
	}
	return cfg.Extenders[0]
}

// The HTTPS sample verifies the extender and presents a client
// certificate, at the plain sample's address and the chart's port.
func TestChartsSchedulerSampleHTTPSConfig(t *testing.T) {
	t.Parallel()
	e := sampleExtender(t, "../scheduler/scheduler-config-https.yaml")
	for k := range e {
		if !extenderFields[k] {
			t.Errorf("extender key %q is not one of kube-scheduler's", k)
		}
	}
	tc, _ := e["tlsConfig"].(map[string]any)
	for k := range tc {
		if !extenderTLSFields[k] {
			t.Errorf("tlsConfig key %q is not one of kube-scheduler's", k)
		}
	}
	url, _ := e["urlPrefix"].(string)
	if !strings.HasPrefix(url, "https://") || e["enableHTTPS"] != true || tc == nil {
		t.Fatalf("extender %v: want an https urlPrefix, enableHTTPS and a tlsConfig", e)
	}
	// With enableHTTPS and no CA, kube-scheduler sets insecure itself.
	has := func(k string) bool { v, _ := tc[k].(string); return v != "" }
	if tc["insecure"] == true || !has("caFile") && !has("caData") || !has("serverName") ||
		!has("certFile") && !has("certData") || !has("keyFile") && !has("keyData") {
		t.Errorf("tlsConfig %v: want the extender verified (a CA, serverName) and a client certificate", tc)
	}
	port := chartListenPort(t)
	plain, _ := sampleExtender(t, "../scheduler/scheduler-config.yaml")["urlPrefix"].(string)
	if want := strings.Replace(plain, "http://", "https://", 1); url != want || !strings.HasSuffix(want, ":"+strconv.Itoa(port)) {
		t.Errorf("urlPrefix %q, want %q (the plain sample's address, the chart's listenPort)", url, want)
	}
}
