package daemon

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/toposuite/toposuite/internal/storage"
)

// MetricNames name the capacity gauges of a daemon. Each daemon keeps the
// names its users know (lvmd: upstream TopoLVM's; btrfsd: topols_*); empty
// names are not exported.
type MetricNames struct {
	// ClassLabel names the label holding the class; default device_class.
	ClassLabel string
	// For classes without a thin pool.
	SizeBytes, AvailableBytes string
	// For thin classes.
	ThinSizeBytes, ThinDataPercent, ThinMetadataPercent, ThinAvailableBytes string
}

// CapacitySource gives the latest capacity, and false when there is none yet.
type CapacitySource func() (storage.Capacity, bool)

// CapacityCollector exports the latest capacity as gauges labelled with
// node and the class label. It reads figures already at hand (the daemon's
// hub, or the node plugin's last Watch message), so a scrape never runs a
// command.
type CapacityCollector struct {
	latest CapacitySource
	node   string
	descs  map[string]*prometheus.Desc
	names  MetricNames
}

// NewCapacityCollector returns a collector; register it with a registry.
func NewCapacityCollector(latest CapacitySource, node string, names MetricNames) *CapacityCollector {
	c := &CapacityCollector{latest: latest, node: node, names: names, descs: map[string]*prometheus.Desc{}}
	help := map[string]string{
		names.SizeBytes:           "Size of the storage behind the device class in bytes.",
		names.AvailableBytes:      "Bytes available for new volumes in the device class.",
		names.ThinSizeBytes:       "Size of the thin pool in bytes.",
		names.ThinDataPercent:     "Data usage of the thin pool in percent.",
		names.ThinMetadataPercent: "Metadata usage of the thin pool in percent.",
		names.ThinAvailableBytes:  "Virtual bytes available for new thin volumes, after the overprovision ratio.",
	}
	label := names.ClassLabel
	if label == "" {
		label = "device_class"
	}
	for name, h := range help {
		if name != "" {
			c.descs[name] = prometheus.NewDesc(name, h, []string{"node", label}, nil)
		}
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *CapacityCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *CapacityCollector) Collect(ch chan<- prometheus.Metric) {
	latest, ok := c.latest()
	if !ok {
		return
	}
	emit := func(name string, v float64, class string) {
		if d := c.descs[name]; d != nil {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, c.node, class)
		}
	}
	for _, cc := range latest {
		if tp := cc.ThinPool; tp != nil {
			emit(c.names.ThinSizeBytes, float64(tp.SizeBytes), cc.Name)
			emit(c.names.ThinDataPercent, tp.DataPercent, cc.Name)
			emit(c.names.ThinMetadataPercent, tp.MetadataPercent, cc.Name)
			emit(c.names.ThinAvailableBytes, float64(cc.AvailableBytes), cc.Name)
			continue
		}
		emit(c.names.SizeBytes, float64(cc.SizeBytes), cc.Name)
		emit(c.names.AvailableBytes, float64(cc.AvailableBytes), cc.Name)
	}
}
