package controller

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"

	api "github.com/toposuite/toposuite/internal/daemonapi"
)

// Thin pool alerts, which this machine's LVM cannot make (no device-mapper;
// TestIntegrationNodeCapacityEvents covers volume groups with a real lvmd):
// the figures lvmd reports for a thin class, shown to CapacityAlerts in
// turn, give one Event per change of state. client-go's FakeRecorder
// stands in for the API server's Events.
func TestCapacityAlertsThinPool(t *testing.T) {
	rec := events.NewFakeRecorder(10)
	a := &CapacityAlerts{Recorder: rec, ThinPoolPercent: 80}
	node := &corev1.Node{}
	thin := func(size int64, data, meta float64) *api.CapacityResponse {
		c := &api.ClassCapacity{Name: "thin", SizeBytes: size, AvailableBytes: size}
		if size > 0 {
			c.ThinPool = &api.ThinPool{Name: "pool0", SizeBytes: size, DataPercent: data, MetadataPercent: meta}
		}
		return &api.CapacityResponse{Classes: []*api.ClassCapacity{c}}
	}
	for _, step := range []struct {
		what string
		msg  *api.CapacityResponse
		want string // the Event's start, "" for none
	}{
		{"well", thin(1<<30, 10, 5), ""},
		{"data at the threshold", thin(1<<30, 80, 5), `Warning ThinPoolAlmostFull Thin pool "pool0" of device class "thin" is almost full (data 80.0%; alert at 80%)`},
		{"data and metadata full: the same state", thin(1<<30, 95, 85), ""},
		{"well again", thin(1<<30, 40, 5), `Normal StorageRecovered Device class "thin" is well again (was ThinPoolAlmostFull)`},
		{"metadata alone", thin(1<<30, 40, 81.5), `Warning ThinPoolAlmostFull Thin pool "pool0" of device class "thin" is almost full (metadata 81.5%`},
		{"pool gone", thin(0, 0, 0), `Warning StorageMissing Device class "thin" has no storage`},
		{"still gone", thin(0, 0, 0), ""},
	} {
		a.Observe(node, step.msg)
		var got string
		select {
		case got = <-rec.Events:
		default:
		}
		if step.want == "" && got != "" || !strings.HasPrefix(got, step.want) {
			t.Errorf("%s: Event %q, want one starting %q", step.what, got, step.want)
		}
	}
}
