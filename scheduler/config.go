package scheduler

import (
	"errors"
	"fmt"
	"math"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/toposuite/toposuite/internal/configfile"
)

// Scoring modes.
const (
	// ScoringSpread prefers the node with the most free space left.
	ScoringSpread = "spread"
	// ScoringBinpack prefers the fullest node that still fits.
	ScoringBinpack = "binpack"
)

// Defaults.
const (
	DefaultListen  = ":9251"
	DefaultScoring = ScoringSpread
	// DefaultMaxRequestBytes bounds a request body: see DefaultBodyLimit.
	DefaultMaxRequestBytes = DefaultBodyLimit
	DefaultRequestTimeout  = 30 * time.Second
	// DefaultInFlightWait bounds how long a filter request waits for the
	// outcome of the pods scheduled just before it (see inflight.go).
	DefaultInFlightWait = time.Second
)

// Config is topolvm-scheduler's configuration file.
type Config struct {
	// Listen is the address of the HTTP(S) server: the extender verbs
	// (/filter, /prioritize), /healthz, /readyz and /metrics.
	Listen string `json:"listen,omitempty"`
	// Drivers are the CSI drivers whose capacity the extender checks.
	Drivers []string `json:"drivers,omitempty"`
	// Scoring is spread (default) or binpack.
	Scoring string `json:"scoring,omitempty"`
	// Divisor is the default number of bytes one step of the score stands
	// for: a class scores log2(free bytes / divisor), between 0 and 10.
	Divisor *resource.Quantity `json:"divisor,omitempty"`
	// Classes tune the score per driver and device class.
	Classes []ClassScoring `json:"classes,omitempty"`
	// TLS makes the server speak HTTPS.
	TLS *TLS `json:"tls,omitempty"`
	// MaxRequestBytes bounds a request body.
	MaxRequestBytes int64 `json:"maxRequestBytes,omitempty"`
	// RequestTimeout bounds reading a request and writing its answer.
	RequestTimeout *metav1.Duration `json:"requestTimeout,omitempty"`
	// InFlightWait bounds how long a filter request may wait for the
	// placement of pods filtered just before it to become visible.
	InFlightWait *metav1.Duration `json:"inFlightWait,omitempty"`
}

// ClassScoring tunes one class's score.
type ClassScoring struct {
	Driver string `json:"driver"`
	// Name is the device class; empty is the node's default class.
	Name string `json:"name,omitempty"`
	// Divisor replaces the default divisor for this class.
	Divisor *resource.Quantity `json:"divisor,omitempty"`
	// Weight multiplies the class's score (default 1) before the pod's
	// scarcest class is taken: a weight below 1 lets this class decide
	// sooner, above 1 later.
	Weight *float64 `json:"weight,omitempty"`
}

// TLS names the server's certificate and key files.
type TLS struct {
	CertFile string `json:"certFile"`
	KeyFile  string `json:"keyFile"`
}

// Default implements configfile.Defaulter.
func (c *Config) Default() {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if len(c.Drivers) == 0 {
		c.Drivers = []string{"topolvm.io", "topols.io"}
	}
	if c.Scoring == "" {
		c.Scoring = DefaultScoring
	}
	if c.Divisor == nil {
		q := resource.MustParse("1Gi")
		c.Divisor = &q
	}
	if c.MaxRequestBytes == 0 {
		c.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if c.RequestTimeout == nil {
		c.RequestTimeout = &metav1.Duration{Duration: DefaultRequestTimeout}
	}
	if c.InFlightWait == nil {
		c.InFlightWait = &metav1.Duration{Duration: DefaultInFlightWait}
	}
}

// Validate reports every problem at once.
func (c *Config) Validate() error {
	var errs []error
	if c.Scoring != ScoringSpread && c.Scoring != ScoringBinpack {
		errs = append(errs, fmt.Errorf("scoring %q is not spread or binpack", c.Scoring))
	}
	drivers := map[string]bool{}
	for _, d := range c.Drivers {
		if d == "" || drivers[d] {
			errs = append(errs, fmt.Errorf("drivers: %q is empty or listed twice", d))
		}
		drivers[d] = true
	}
	if c.Divisor.Sign() <= 0 {
		errs = append(errs, fmt.Errorf("divisor %s is not positive", c.Divisor.String()))
	}
	seen := map[string]bool{}
	for i, cl := range c.Classes {
		where := fmt.Sprintf("classes[%d] (%s %q)", i, cl.Driver, cl.Name)
		if !drivers[cl.Driver] {
			errs = append(errs, fmt.Errorf("%s: driver is not one of drivers", where))
		}
		if k := cl.Driver + "/" + cl.Name; seen[k] {
			errs = append(errs, fmt.Errorf("%s: listed twice", where))
		} else {
			seen[k] = true
		}
		if cl.Divisor != nil && cl.Divisor.Sign() <= 0 {
			errs = append(errs, fmt.Errorf("%s: divisor is not positive", where))
		}
		if cl.Weight != nil && (*cl.Weight <= 0 || math.IsInf(*cl.Weight, 0) || math.IsNaN(*cl.Weight)) {
			errs = append(errs, fmt.Errorf("%s: weight is not a positive number", where))
		}
	}
	if c.TLS != nil && (c.TLS.CertFile == "" || c.TLS.KeyFile == "") {
		errs = append(errs, errors.New("tls: certFile and keyFile are both required"))
	}
	if c.MaxRequestBytes < 0 {
		errs = append(errs, errors.New("maxRequestBytes is negative"))
	}
	if c.RequestTimeout.Duration <= 0 {
		errs = append(errs, errors.New("requestTimeout is not positive"))
	}
	if c.InFlightWait.Duration < 0 {
		errs = append(errs, errors.New("inFlightWait is negative"))
	}
	return errors.Join(errs...)
}

// LoadFile reads and defaults a config file; the caller applies its flags
// and then Validate.
func LoadFile(path string) (*Config, error) { return configfile.Load[Config](path) }
