package charts_test

import (
	"strings"
	"testing"
)

// Bad values are refused by values.schema.json (or, for what a schema
// cannot say, by the templates) before anything reaches a cluster.
func TestChartsRejectBadValues(t *testing.T) {
	for name, c := range map[string]struct {
		chart  string
		values map[string]any
		want   string // in helm's message
	}{
		"unknown top-level key":   {"topolvm", map[string]any{"replicas": 2}, "additional properties 'replicas' not allowed"},
		"lvmd mode":               {"topolvm", map[string]any{"lvmd": map[string]any{"mode": "sidecar"}}, "/lvmd/mode"},
		"registration":            {"topolvm", map[string]any{"node": map[string]any{"registration": "kubelet"}}, "/node/registration"},
		"pull policy":             {"topolvm", map[string]any{"imagePullPolicy": "Sometimes"}, "/imagePullPolicy"},
		"driver name":             {"topolvm", map[string]any{"driverName": "TopoLVM"}, "/driverName"},
		"negative replicas":       {"topolvm", map[string]any{"controller": map[string]any{"replicas": -1}}, "/controller/replicas"},
		"replicas as text":        {"topolvm", map[string]any{"controller": map[string]any{"replicas": "two"}}, "/controller/replicas"},
		"sidecar without tag":     {"topolvm", map[string]any{"controller": map[string]any{"provisioner": map[string]any{"image": map[string]any{"repository": "x", "tag": ""}}}}, "/controller/provisioner/image/tag"},
		"bad duration":            {"topolvm", map[string]any{"controller": map[string]any{"leakGrace": "ten minutes"}}, "/controller/leakGrace"},
		"port out of range":       {"topolvm", map[string]any{"node": map[string]any{"metricsPort": 70000}}, "/node/metricsPort"},
		"relative kubelet dir":    {"topolvm", map[string]any{"node": map[string]any{"kubeletDir": "var/lib/kubelet"}}, "/node/kubeletDir"},
		"fsGroupPolicy":           {"topolvm", map[string]any{"csiDriver": map[string]any{"fsGroupPolicy": "Always"}}, "/csiDriver/fsGroupPolicy"},
		"binding mode":            {"topolvm", map[string]any{"storageClasses": []any{map[string]any{"name": "a", "volumeBindingMode": "Later"}}}, "/storageClasses/0/volumeBindingMode"},
		"filesystem":              {"topolvm", map[string]any{"storageClasses": []any{map[string]any{"name": "a", "fsType": "ntfs"}}}, "/storageClasses/0/fsType"},
		"class without name":      {"topolvm", map[string]any{"storageClasses": []any{map[string]any{"fsType": "xfs"}}}, "missing property 'name'"},
		"class named twice":       {"topolvm", map[string]any{"storageClasses": []any{map[string]any{"name": "a"}, map[string]any{"name": "a"}}}, `"a" is listed twice`},
		"two default classes":     {"topolvm", map[string]any{"storageClasses": []any{map[string]any{"name": "a", "isDefault": true}, map[string]any{"name": "b", "isDefault": true}}}, "at most one may be the default"},
		"fstype under parameters": {"topolvm", map[string]any{"storageClasses": []any{map[string]any{"name": "a", "parameters": map[string]any{"csi.storage.k8s.io/fstype": "xfs"}}}}, "not under parameters"},
		"chart-owned lvmd key":    {"topolvm", map[string]any{"lvmd": map[string]any{"config": map[string]any{"socketName": "/tmp/x.sock"}}}, "socketName"},
		"no device class":         {"topolvm", map[string]any{"lvmd": map[string]any{"config": map[string]any{"deviceClasses": []any{}}}}, "/lvmd/config/deviceClasses"},
		"no default device class": {"topolvm", map[string]any{"lvmd": map[string]any{"config": map[string]any{"deviceClasses": []any{map[string]any{"name": "a", "volumeGroup": "vg"}}}}}, "exactly one device class must be the default"},
		"thin without pool":       {"topolvm", map[string]any{"lvmd": map[string]any{"config": map[string]any{"deviceClasses": []any{map[string]any{"name": "a", "volumeGroup": "vg", "default": true, "thinPool": map[string]any{"name": "p"}}}}}}, "overprovisionRatio"},
		"lvm typo":                {"topolvm", map[string]any{"lvmd": map[string]any{"config": map[string]any{"lvm": map[string]any{"commandprefix": []any{"nsenter"}}}}}, "commandprefix"},
		"lvm shells":              {"lvmd", map[string]any{"config": map[string]any{"lvm": map[string]any{"shell": map[string]any{"processes": -1}}}}, "/config/lvm/shell/processes"},
		"lvm shell profile path":  {"topolvm", map[string]any{"lvmd": map[string]any{"config": map[string]any{"lvm": map[string]any{"shell": map[string]any{"profile": "/etc/x.profile"}}}}}, "/lvmd/config/lvm/shell/profile"},
		"topols ext4":             {"topols", map[string]any{"storageClasses": []any{map[string]any{"name": "a", "fsType": "ext4"}}}, "/storageClasses/0/fsType"},
		"topols lvcreate options": {"topols", map[string]any{"storageClasses": []any{map[string]any{"name": "a", "lvcreateOptionClass": "raid1"}}}, "lvcreateOptionClass"},
		"topols lvmd values":      {"topols", map[string]any{"lvmd": map[string]any{"mode": "embedded"}}, "additional properties 'lvmd' not allowed"},
		"topols relative pool":    {"topols", map[string]any{"btrfsd": map[string]any{"config": map[string]any{"pools": []any{map[string]any{"name": "a", "path": "pools/a", "default": true}}}}}, "/btrfsd/config/pools/0/path"},
		"topols unclean pool":     {"topols", map[string]any{"btrfsd": map[string]any{"config": map[string]any{"pools": []any{map[string]any{"name": "a", "path": "/a/../b/", "default": true}}}}}, "/btrfsd/config/pools/0/path"},
		"topols no default pool":  {"topols", map[string]any{"btrfsd": map[string]any{"config": map[string]any{"pools": []any{map[string]any{"name": "a", "path": "/a"}}}}}, "exactly one pool must be the default"},
		"topols raid profile":     {"topols", map[string]any{"btrfsd": map[string]any{"config": map[string]any{"pools": []any{map[string]any{"name": "a", "path": "/a", "default": true, "filesystem": map[string]any{"devices": []any{"/dev/sdb"}, "dataProfile": "raid7"}}}}}}, "dataProfile"},
		"lvmd class type":         {"lvmd", map[string]any{"config": map[string]any{"deviceClasses": []any{map[string]any{"name": "a", "volumeGroup": "vg", "default": true, "type": "mirror"}}}}, "/config/deviceClasses/0/type"},
		"lvmd relative socket":    {"lvmd", map[string]any{"socketDir": "run/topolvm"}, "/socketDir"},
		"lvmd activation":         {"lvmd", map[string]any{"config": map[string]any{"activation": "udev"}}, "/config/activation"},
		"webhook failure policy":  {"topolvm", map[string]any{"webhook": map[string]any{"failurePolicy": "Retry"}}, "/webhook/failurePolicy"},
		"webhook timeout":         {"topols", map[string]any{"webhook": map[string]any{"timeoutSeconds": 31}}, "/webhook/timeoutSeconds"},
		"webhook port":            {"topolvm", map[string]any{"webhook": map[string]any{"port": 0}}, "/webhook/port"},
		"webhook selector":        {"topolvm", map[string]any{"webhook": map[string]any{"namespaceSelector": map[string]any{"matchExpressions": []any{map[string]any{"key": "a", "operator": "Equals"}}}}}, "/webhook/namespaceSelector/matchExpressions/0/operator"},
		"webhook issuer kind":     {"topols", map[string]any{"webhook": map[string]any{"certManager": map[string]any{"issuerRef": map[string]any{"name": "x", "kind": "Vault"}}}}, "/webhook/certManager/issuerRef/kind"},
		"webhook unknown":         {"topolvm", map[string]any{"webhook": map[string]any{"certDir": "/x"}}, "additional properties 'certDir' not allowed"},
		"scheduler port":          {"topolvm-scheduler", map[string]any{"listenPort": 70000}, "/listenPort"},
		"scheduler listen":        {"topolvm-scheduler", map[string]any{"config": map[string]any{"listen": ":1"}}, "/config"},
		"scheduler unknown":       {"topolvm-scheduler", map[string]any{"webhook": map[string]any{"enabled": true}}, "additional properties 'webhook' not allowed"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := templateErr(t, c.chart, "bad", "bad", c.values)
			if err == nil {
				t.Fatalf("helm template %s accepted %v", c.chart, c.values)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("helm template %s refused %v, but not for %q:\n%v", c.chart, c.values, c.want, err)
			}
		})
	}
}

// helm lint refuses bad values too.
func TestChartsLintRejectsBadValues(t *testing.T) {
	out, err := helm(t, "lint", "--strict", "topolvm", "--set", "lvmd.mode=bogus")
	if err == nil || !strings.Contains(out, "/lvmd/mode") {
		t.Fatalf("helm lint accepted lvmd.mode=bogus: %v\n%s", err, out)
	}
}
