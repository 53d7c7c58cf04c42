//go:build integration

package v1alpha1_test

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/toposuite/toposuite/internal/api/operator/v1alpha1"
	"github.com/toposuite/toposuite/internal/testutil"
)

const valid = `
apiVersion: operator.topolvm.io/v1alpha1
kind: TopolvmCluster
metadata: {name: topolvm}
spec:
  components: {btrfs: {enabled: true}}
  nodeGroups:
    - name: ssd
      nodeSelector: {disk: ssd}
      volumeGroups:
        - {name: vg-fast, devices: [/dev/sdb, /dev/sdc]}
        - {name: vg-old, adopt: true}
      deviceClasses:
        - {name: fast, volumeGroup: vg-fast, default: true}
        - {name: thin, volumeGroup: vg-fast, thinPool: {name: pool0, overprovisionRatio: 5}}
        - {name: old, volumeGroup: vg-old}
      pools:
        - {name: fs, default: true, devices: [/dev/sdd]}
    - name: hdd
      nodeSelector: {disk: hdd}
      volumeGroups:
        - {name: vg-slow, deviceSelector: {rotational: true, minSize: 100Gi}}
        - {name: vg-ssd, deviceSelector: {minSize: 1Gi, maxSize: 2Ti, model: 'Samsung SSD [89]*', byIDPattern: 'nvme-*\\[x]?'}}
      deviceClasses:
        - {name: slow, volumeGroup: vg-slow, default: true}
`

// TestIntegrationTopolvmClusterValidation sends good and bad TopolvmClusters
// to a real API server: the CRD's schema and CEL rules must accept the good
// one (with its defaults filled in) and refuse each bad one, saying why.
func TestIntegrationTopolvmClusterValidation(t *testing.T) {
	_, c := testutil.APIServer(t)
	ctx := testutil.Context(t)

	create := func(doc string) error {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatalf("test YAML: %v", err)
		}
		return c.Create(ctx, u, client.FieldValidation(metav1.FieldValidationStrict), client.DryRunAll)
	}

	if err := create(valid); err != nil {
		t.Fatalf("valid TopolvmCluster refused: %v", err)
	}
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(valid), &u.Object); err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	var got v1alpha1.TopolvmCluster
	if err := c.Get(ctx, client.ObjectKey{Name: v1alpha1.ClusterName}, &got); err != nil {
		t.Fatal(err)
	}
	s := got.Spec
	if !s.Components.LVM.Enabled || s.Components.LVM.ControllerReplicas != 2 || s.Components.Scheduler.Mode != v1alpha1.SchedulerStorageCapacity ||
		!s.Components.Metrics.Enabled || s.VolumeDeletionPolicy != v1alpha1.VolumeDeletionKeep || s.Alerts.WarningPercent != 75 ||
		s.Alerts.CriticalPercent != 85 || s.NodeGroups[0].VolumeGroups[0].WipePolicy != v1alpha1.WipeNever {
		t.Errorf("defaults not filled in: %+v", s)
	}
	if err := c.Delete(ctx, &got); err != nil {
		t.Fatal(err)
	}

	bad := []struct{ name, from, to, want string }{
		{"second cluster", "name: topolvm}", "name: other}", "one TopolvmCluster per cluster"},
		{"unknown field", "nodeSelector: {disk: ssd}", "nodeSelector: {disk: ssd}\n      disks: [/dev/sdx]", "unknown field"},
		{"duplicate class", "{name: thin,", "{name: fast,", "Duplicate value"},
		{"two defaults", "{name: old, volumeGroup: vg-old}", "{name: old, volumeGroup: vg-old, default: true}", "two device classes are the default"},
		{"overlapping node groups", "nodeSelector: {disk: hdd}", "nodeSelector: {disk: ssd}", "same nodeSelector"},
		{"catch-all group next to others", "nodeSelector: {disk: hdd}", "nodeSelector: {}", "must be the only group"},
		{"device claimed by two VGs", "{name: vg-old, adopt: true}", "{name: vg-old, devices: [/dev/sdc]}", "claimed by two volume groups"},
		{"device claimed by VG and pool", "devices: [/dev/sdd]", "devices: [/dev/sdb]", "claimed by a volume group and a pool"},
		{"device listed twice", "devices: [/dev/sdd]", "devices: [/dev/sdd, /dev/sdd]", "Duplicate value"},
		{"class on unknown VG", "{name: old, volumeGroup: vg-old}", "{name: old, volumeGroup: vg-none}", "does not declare"},
		{"adopt with devices", "{name: vg-old, adopt: true}", "{name: vg-old, adopt: true, devices: [/dev/sde]}", "adopted volume group is used as it is"},
		{"no devices", "{name: vg-old, adopt: true}", "{name: vg-old}", "needs devices"},
		{"empty selector", "deviceSelector: {rotational: true, minSize: 100Gi}", "deviceSelector: {}", "empty deviceSelector"},
		{"unclosed bracket in model", "minSize: 100Gi}", "model: 'ST[0-9'}", "model is not a valid glob"},
		{"trailing backslash in byIDPattern", "minSize: 100Gi}", "byIDPattern: 'ata-\\'}", "byIDPattern is not a valid glob"},
		{"path in byIDPattern", "minSize: 100Gi}", "byIDPattern: /dev/disk/by-id/ata-*}", "byIDPattern is not a valid glob"},
		{"bad device path", "[/dev/sdd]", "[sdd]", "should match"},
		{"wipe policy", "devices: [/dev/sdd]}", "devices: [/dev/sdd], wipePolicy: Always}", "Unsupported value"},
		{"webhook without extender", "components: {btrfs: {enabled: true}}", "components: {btrfs: {enabled: true}, webhook: {enabled: true}}", "only makes sense with scheduler.mode Extender"},
		{"thresholds", "components: {btrfs: {enabled: true}}", "components: {btrfs: {enabled: true}}\n  alerts: {warningPercent: 90, criticalPercent: 80}", "warningPercent must be below"},
	}
	for _, b := range bad {
		doc := strings.Replace(valid, b.from, b.to, 1)
		if doc == valid {
			t.Fatalf("%s: the test's replacement did not apply", b.name)
		}
		err := create(doc)
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%s: got %v, want an error containing %q", b.name, err, b.want)
		}
	}
}
