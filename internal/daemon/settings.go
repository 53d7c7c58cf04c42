package daemon

import (
	"errors"
	"os"
	"time"

	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Settings are what every storage daemon's config file says about serving;
// lvmd's and btrfsd's configs embed it, so the keys and their meaning are
// the same in both files.
type Settings struct {
	// SocketName is the unix socket the daemon serves on (standalone only).
	SocketName string `json:"socketName,omitempty"`
	// NodeName labels metrics; defaults to NODE_NAME, then the host name.
	NodeName string `json:"nodeName,omitempty"`
	// MetricsAddress serves /metrics, /healthz and /readyz; empty disables.
	MetricsAddress string `json:"metricsAddress,omitempty"`
	// PollInterval is how often the system is read to see outside changes.
	PollInterval *metav1.Duration `json:"pollInterval,omitempty"`
}

// Default fills unset fields; socket is the daemon's default socket path.
func (s *Settings) Default(socket string) {
	if s.SocketName == "" {
		s.SocketName = socket
	}
	if s.NodeName == "" {
		s.NodeName = os.Getenv("NODE_NAME")
	}
	if s.NodeName == "" {
		s.NodeName, _ = os.Hostname()
	}
	if s.PollInterval == nil {
		s.PollInterval = &metav1.Duration{Duration: DefaultPollInterval}
	}
}

// Validate checks the settings.
func (s *Settings) Validate() error {
	if s.PollInterval != nil && s.PollInterval.Duration <= 0 {
		return errors.New("pollInterval: must be positive")
	}
	return nil
}

// ServeOptions returns where the daemon serves, with its metric names.
func (s *Settings) ServeOptions(names MetricNames) ServeOptions {
	return ServeOptions{Socket: s.SocketName, MetricsAddress: s.MetricsAddress, NodeName: s.NodeName, MetricNames: names}
}

// Flags are the command-line flags that override Settings.
type Flags struct {
	socket, node, metrics string
	poll                  time.Duration
	fs                    *pflag.FlagSet
}

// Register adds --socket, --node-name, --metrics-address and --poll-interval.
func (f *Flags) Register(fs *pflag.FlagSet) {
	f.fs = fs
	fs.StringVar(&f.socket, "socket", "", "unix socket to serve on (overrides socketName)")
	fs.StringVar(&f.node, "node-name", "", "node name for metrics labels (overrides nodeName)")
	fs.StringVar(&f.metrics, "metrics-address", "", "address of /metrics, /healthz and /readyz, e.g. :9280 (overrides metricsAddress)")
	fs.DurationVar(&f.poll, "poll-interval", 0, "how often the system is read for outside changes (overrides pollInterval)")
}

// Apply lays the flags that were set over s.
func (f *Flags) Apply(s *Settings) {
	if f.socket != "" {
		s.SocketName = f.socket
	}
	if f.node != "" {
		s.NodeName = f.node
	}
	if f.metrics != "" {
		s.MetricsAddress = f.metrics
	}
	if f.fs != nil && f.fs.Changed("poll-interval") {
		s.PollInterval = &metav1.Duration{Duration: f.poll}
	}
}
