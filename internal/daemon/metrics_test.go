package daemon

import (
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/toposuite/toposuite/internal/storage"
)

type fixedBackend struct {
	memBackend
	c storage.Capacity
}

func (f *fixedBackend) Capacity() storage.Capacity { return f.c }

func TestCapacityCollector(t *testing.T) {
	b := &fixedBackend{c: storage.Capacity{
		{Name: "ssd", Default: true, SizeBytes: 1000, AvailableBytes: 400},
		{Name: "thin", SizeBytes: 2000, AvailableBytes: 5000, ThinPool: &storage.ThinPool{Name: "p", SizeBytes: 2000, DataPercent: 12.5, MetadataPercent: 3}},
	}}
	hub := NewHub(b, time.Hour, logr.Discard())
	names := MetricNames{
		SizeBytes: "x_size_bytes", AvailableBytes: "x_available_bytes",
		ThinSizeBytes: "x_thin_size_bytes", ThinDataPercent: "x_thin_data_percent",
		ThinMetadataPercent: "x_thin_metadata_percent", ThinAvailableBytes: "x_thin_available",
	}
	c := NewCapacityCollector(hub.Latest, "node-1", names)
	if n := promtest.CollectAndCount(c); n != 0 {
		t.Errorf("%d metrics before any figures, want none", n)
	}
	hub.Notify()
	want := `
# HELP x_available_bytes Bytes available for new volumes in the device class.
# TYPE x_available_bytes gauge
x_available_bytes{device_class="ssd",node="node-1"} 400
# HELP x_size_bytes Size of the storage behind the device class in bytes.
# TYPE x_size_bytes gauge
x_size_bytes{device_class="ssd",node="node-1"} 1000
# HELP x_thin_available Virtual bytes available for new thin volumes, after the overprovision ratio.
# TYPE x_thin_available gauge
x_thin_available{device_class="thin",node="node-1"} 5000
# HELP x_thin_data_percent Data usage of the thin pool in percent.
# TYPE x_thin_data_percent gauge
x_thin_data_percent{device_class="thin",node="node-1"} 12.5
# HELP x_thin_metadata_percent Metadata usage of the thin pool in percent.
# TYPE x_thin_metadata_percent gauge
x_thin_metadata_percent{device_class="thin",node="node-1"} 3
# HELP x_thin_size_bytes Size of the thin pool in bytes.
# TYPE x_thin_size_bytes gauge
x_thin_size_bytes{device_class="thin",node="node-1"} 2000
`
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	if err := promtest.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}
