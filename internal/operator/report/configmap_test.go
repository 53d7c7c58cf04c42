package report

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

func TestConfigMapName(t *testing.T) {
	if got := ConfigMapName("node-a"); got != "node-report-node-a" {
		t.Errorf("ConfigMapName(node-a) = %q", got)
	}
	long := strings.Repeat("a", 250)
	other := strings.Repeat("a", 249) + "b"
	n1, n2 := ConfigMapName(long), ConfigMapName(other)
	if n1 == n2 {
		t.Errorf("two long node names share the report name %q", n1)
	}
	for _, n := range []string{n1, n2} {
		if errs := validation.IsDNS1123Subdomain(n); len(errs) > 0 {
			t.Errorf("ConfigMapName of a long node = %q: %v", n, errs)
		}
	}
}

func TestDecode(t *testing.T) {
	good := `{"node":"n1","updated":"2026-01-02T03:04:05Z","volumeGroups":[{"name":"vg","size":10,"free":4,"devices":["/dev/sdb"],"refused":[{"device":"/dev/sdc","reason":"holds an ext4 filesystem"}]}]}`
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "node-report-n1", Annotations: map[string]string{AnnotationNode: "n1"}},
		Data: map[string]string{DataKey: good}}
	want := NodeReport{Node: "n1", Updated: metav1.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		VolumeGroups: []VolumeGroup{{Name: "vg", Size: 10, Free: 4, Devices: []string{"/dev/sdb"},
			Refused: []Refusal{{Device: "/dev/sdc", Reason: "holds an ext4 filesystem"}}}}}
	if diff := cmp.Diff(want, decode(cm)); diff != "" {
		t.Errorf("decode (-want +got):\n%s", diff)
	}

	cm.Data[DataKey] = "{not json"
	got := decode(cm)
	if got.Node != "n1" || len(got.Errors) != 1 || !strings.Contains(got.Errors[0], "node-report-n1") {
		t.Errorf("decode of a broken report = %+v, want node n1 and one error naming the ConfigMap", got)
	}
}
