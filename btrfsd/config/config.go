// Package config is btrfsd's one typed configuration: loaded strictly from
// YAML (unknown or duplicate keys are errors), defaulted, overridden by
// flags, and validated by the same Validate standalone or embedded.
package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/toposuite/toposuite/internal/configfile"
	"github.com/toposuite/toposuite/internal/daemon"
)

// Defaults.
const (
	DefaultSocketName = "/run/topols/btrfsd.sock"
	DefaultTimeout    = 10 * time.Minute
)

// Config is btrfsd's configuration.
type Config struct {
	// Settings: socketName, nodeName, metricsAddress, pollInterval.
	daemon.Settings `json:",inline"`
	// Commands says how `btrfsd prepare` runs mkfs.btrfs, mount and friends.
	Commands Commands `json:"commands,omitempty"`
	// Pools are the device classes: btrfs filesystems or directories on them.
	Pools []Pool `json:"pools"`
}

// Commands are how external programs run (prepare only: volumes use ioctls).
type Commands struct {
	Prefix  []string          `json:"prefix,omitempty"`
	Env     map[string]string `json:"env,omitempty"`
	Timeout *metav1.Duration  `json:"timeout,omitempty"`
}

// Pool is one device class of TopoLS.
type Pool struct {
	Name string `json:"name"`
	// Path is a mounted btrfs filesystem or a directory on one; it belongs
	// to btrfsd: volumes are the subvolumes directly in it.
	Path    string `json:"path"`
	Default bool   `json:"default,omitempty"`
	// Budget caps the sum of the volumes' limits; default: the filesystem size.
	Budget *resource.Quantity `json:"budget,omitempty"`
	// Spare is filesystem space never given to volumes; default 0.
	Spare *resource.Quantity `json:"spare,omitempty"`
	// EnableQuota turns btrfs quotas on at start when they are off. Without
	// it, a pool without quotas is an error: sizes would not be enforced.
	EnableQuota bool `json:"enableQuota,omitempty"`
	// Filesystem declares what `btrfsd prepare` builds for this pool.
	Filesystem *Filesystem `json:"filesystem,omitempty"`
}

// Filesystem is a btrfs filesystem `btrfsd prepare` makes and mounts at the pool path.
type Filesystem struct {
	Devices []string `json:"devices"`
	// DataProfile and MetadataProfile (mkfs.btrfs -d / -m), e.g. raid1, when
	// several devices are given.
	DataProfile     string   `json:"dataProfile,omitempty"`
	MetadataProfile string   `json:"metadataProfile,omitempty"`
	MountOptions    []string `json:"mountOptions,omitempty"`
	// Wipe lists devices whose existing signatures may be erased.
	Wipe          []string           `json:"wipe,omitempty"`
	MinDeviceSize *resource.Quantity `json:"minDeviceSize,omitempty"`
}

// Load reads a config file strictly (unknown keys are errors) and applies defaults.
func Load(path string) (*Config, error) { return configfile.Load[Config](path) }

// Parse decodes YAML strictly and applies defaults, without validating.
func Parse(data []byte) (*Config, error) { return configfile.Parse[Config](data) }

// Default fills unset fields.
func (c *Config) Default() {
	c.Settings.Default(DefaultSocketName)
	if c.Commands.Timeout == nil {
		c.Commands.Timeout = &metav1.Duration{Duration: DefaultTimeout}
	}
	for i := range c.Pools {
		if fs := c.Pools[i].Filesystem; fs != nil && fs.MinDeviceSize == nil {
			q := resource.MustParse("1Gi")
			fs.MinDeviceSize = &q
		}
	}
}

var profiles = map[string]bool{"": true, "single": true, "dup": true, "raid0": true, "raid1": true, "raid1c3": true, "raid1c4": true, "raid10": true, "raid5": true, "raid6": true}

// Validate checks the config; every problem is reported.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(c.Pools) == 0 {
		add("pools: at least one pool is required")
	}
	names, paths := map[string]bool{}, map[string]bool{}
	defaults := 0
	for i, p := range c.Pools {
		at := fmt.Sprintf("pools[%d]", i)
		if err := ValidatePoolName(p.Name); err != nil {
			add("%s.name: %v", at, err)
		} else if names[p.Name] {
			add("%s.name: %q is used twice", at, p.Name)
		}
		names[p.Name] = true
		if !filepath.IsAbs(p.Path) || filepath.Clean(p.Path) != p.Path {
			add("%s.path: %q must be a clean absolute path", at, p.Path)
		} else if paths[p.Path] {
			add("%s.path: %q is used by two pools", at, p.Path)
		}
		paths[p.Path] = true
		if p.Default {
			defaults++
		}
		if p.Budget != nil && p.Budget.Sign() <= 0 {
			add("%s.budget: must be positive", at)
		}
		if p.Spare != nil && p.Spare.Sign() < 0 {
			add("%s.spare: must not be negative", at)
		}
		if fs := p.Filesystem; fs != nil {
			if len(fs.Devices) == 0 {
				add("%s.filesystem.devices: at least one device is required", at)
			}
			if !profiles[fs.DataProfile] || !profiles[fs.MetadataProfile] {
				add("%s.filesystem: unknown profile (want single, dup, raid0, raid1, raid1c3, raid1c4, raid10, raid5 or raid6)", at)
			}
		}
	}
	if len(c.Pools) > 0 && defaults != 1 {
		add("pools: exactly one pool must be the default, found %d", defaults)
	}
	if err := c.Settings.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// ValidatePoolName checks a pool (device class) name.
func ValidatePoolName(name string) error {
	if name == "" || len(name) > 63 {
		return fmt.Errorf("%q must be 1 to 63 characters", name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("%q may only contain letters, digits, '-', '_' and '.'", name)
		}
	}
	return nil
}

// EnvList returns the command environment as KEY=VALUE entries.
func (c Commands) EnvList() []string {
	out := make([]string, 0, len(c.Env))
	for k, v := range c.Env {
		out = append(out, k+"="+v)
	}
	return out
}

// Bytes returns q in bytes, or def when q is unset.
func Bytes(q *resource.Quantity, def int64) int64 {
	if q == nil {
		return def
	}
	return q.Value()
}
