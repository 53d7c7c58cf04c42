// Package config is lvmd's one typed configuration: loaded strictly from
// YAML (unknown or duplicate keys are errors), defaulted, overridden by
// flags, and validated by the same Validate whether lvmd runs standalone or
// embedded in the node plugin.
package config

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/toposuite/toposuite/internal/configfile"
	"github.com/toposuite/toposuite/internal/daemon"
	"github.com/toposuite/toposuite/lvmd/lvm"
)

// Defaults.
const (
	DefaultSocketName = "/run/topolvm/lvmd.sock"
	DefaultLVMPath    = "/sbin/lvm"
	DefaultLVMTimeout = 10 * time.Minute
	// DefaultShellProcesses and DefaultShellProfile: see ShellSettings.
	DefaultShellProcesses = 2
	DefaultShellProfile   = "lvmdbusd"
	// DefaultSpare matches upstream TopoLVM's spare-gb default: space kept
	// free in a thick volume group for LVM metadata growth and emergencies.
	DefaultSpare = "10Gi"
	// OwnerTag marks every LV lvmd creates; lvmd never lists, resizes or
	// removes an LV without it.
	OwnerTag = "toposuite.io/owned"
)

// Config is lvmd's configuration.
type Config struct {
	// Settings: socketName, nodeName, metricsAddress, pollInterval.
	daemon.Settings `json:",inline"`
	// LVM says how to run LVM.
	LVM LVMSettings `json:"lvm,omitempty"`
	// DeviceClasses map class names to volume groups or thin pools.
	DeviceClasses []DeviceClass `json:"deviceClasses"`
	// LvcreateOptionClasses are named sets of extra lvcreate options.
	LvcreateOptionClasses []OptionClass `json:"lvcreateOptionClasses,omitempty"`
	// VolumeGroups declares the devices `lvmd prepare` builds volume groups from.
	VolumeGroups []VolumeGroup `json:"volumeGroups,omitempty"`
	// Activation is how volumes get a device: "lvm" (default, LVM's own
	// activation, /dev/<vg>/<lv>) or "development-loop" (DEVELOPMENT ONLY:
	// a loop device over each LV's extents, for machines without
	// device-mapper; see docs/lvmd.md).
	Activation string `json:"activation,omitempty"`
}

// Activation modes.
const (
	ActivationLVM             = "lvm"
	ActivationDevelopmentLoop = "development-loop"
)

// LVMSettings are how lvmd runs LVM commands.
type LVMSettings struct {
	// Path of the lvm binary.
	Path string `json:"path,omitempty"`
	// CommandPrefix runs before every command, e.g. [nsenter, -t, "1", -m, -u, -i, -n, -p, --].
	CommandPrefix []string `json:"commandPrefix,omitempty"`
	// Env is added to LVM's environment, e.g. LVM_SYSTEM_DIR.
	Env map[string]string `json:"env,omitempty"`
	// Timeout bounds every LVM command.
	Timeout *metav1.Duration `json:"timeout,omitempty"`
	// Shell runs LVM commands in long-running lvm shells.
	Shell ShellSettings `json:"shell,omitempty"`
}

// ShellSettings configure LVM's shell mode: lvmd keeps lvm processes
// running and gives them its reports and changes one line at a time, which
// spares each command the start of lvm (and of the command prefix) and the
// listing of the system's devices.
type ShellSettings struct {
	// Processes is how many shells may run commands at once (default 2);
	// 0 turns the shell mode off: one lvm process a command.
	Processes *int `json:"processes,omitempty"`
	// Profile is the LVM command profile the shells start with. It must
	// turn on JSON reports and the command log report; the default,
	// lvmdbusd, is installed by the lvm2 package and does.
	Profile string `json:"profile,omitempty"`
}

// Class types.
const (
	TypeThick = "thick"
	TypeThin  = "thin"
)

// DeviceClass maps a class to a volume group (thick) or a thin pool in it.
type DeviceClass struct {
	Name        string `json:"name"`
	VolumeGroup string `json:"volumeGroup"`
	Default     bool   `json:"default,omitempty"`
	// Type is thick (default) or thin.
	Type string `json:"type,omitempty"`
	// Spare is kept free in the volume group (thick classes); default 10Gi.
	Spare *resource.Quantity `json:"spare,omitempty"`
	// Stripes and StripeSize (lvcreate -i and -I) for thick classes.
	Stripes    int    `json:"stripes,omitempty"`
	StripeSize string `json:"stripeSize,omitempty"`
	// ThinPool is required for thin classes.
	ThinPool *ThinPool `json:"thinPool,omitempty"`
	// WipeOnRemove is what lvmd does to a volume's blocks before it
	// removes the volume, so that the next volume on those extents does
	// not show them: WipeNone (the default: a removal's time then never
	// depends on the volume's size), WipeZero or WipeDiscard; see
	// docs/lvmd.md, "Wiping removed volumes".
	WipeOnRemove string `json:"wipeOnRemove,omitempty"`
}

// Wipe modes (DeviceClass.WipeOnRemove).
const (
	// WipeNone leaves the blocks as they are.
	WipeNone = "none"
	// WipeZero writes zeros over the volume (the disk's write-zeroes
	// command when it has one); the blocks stay allocated on the disk.
	WipeZero = "zero"
	// WipeDiscard makes the volume read as zeros and lets the disk free
	// the blocks when it can promise zeros for them, else zeroes them as
	// WipeZero; a thin volume is discarded (its pool unmaps the blocks).
	WipeDiscard = "discard"
)

// ThinPool is the thin pool of a thin class.
type ThinPool struct {
	Name string `json:"name"`
	// OverprovisionRatio: the sum of thin volume sizes may reach ratio x pool size (>= 1).
	OverprovisionRatio float64 `json:"overprovisionRatio"`
}

// OptionClass is a named list of lvcreate options written by the
// administrator; only these options ever reach lvcreate from a request.
type OptionClass struct {
	Name    string   `json:"name"`
	Options []string `json:"options"`
}

// VolumeGroup declares what `lvmd prepare` builds.
type VolumeGroup struct {
	Name string `json:"name"`
	// Devices are block devices (paths) to make physical volumes of.
	Devices []string `json:"devices,omitempty"`
	// LoopFiles are files backed by loop devices: for development only.
	LoopFiles []LoopFile `json:"loopFiles,omitempty"`
	// Wipe lists devices whose existing signatures may be erased. Nothing
	// is ever wiped unless it is named here.
	Wipe []string `json:"wipe,omitempty"`
	// MinDeviceSize refuses smaller devices; default 1Gi.
	MinDeviceSize *resource.Quantity `json:"minDeviceSize,omitempty"`
	// ThinPool, when set, is a thin pool prepare creates in the volume
	// group once the volume group is there, for thin device classes.
	ThinPool *PreparedThinPool `json:"thinPool,omitempty"`
}

// PreparedThinPool declares a thin pool `lvmd prepare` creates.
type PreparedThinPool struct {
	Name string `json:"name"`
	// Size is the pool's data size: a share of the volume group's size
	// ("80%") or an absolute quantity ("100Gi"). The pool's metadata and
	// LVM's spare copy of it take room beyond it.
	Size string `json:"size"`
	// ChunkSize is the pool's allocation unit (LVM's --chunksize): a
	// multiple of 64Ki from 64Ki to 1Gi; LVM chooses when unset.
	ChunkSize *resource.Quantity `json:"chunkSize,omitempty"`
	// MetadataSize (LVM's --poolmetadatasize), from 2Mi to 15.8Gi; LVM
	// chooses when unset.
	MetadataSize *resource.Quantity `json:"metadataSize,omitempty"`
}

// Limits of a thin pool's chunk and metadata sizes, as lvcreate enforces
// them; checking them here makes the error a configuration error.
const (
	minChunkSize    = 64 << 10
	maxChunkSize    = 1 << 30
	minMetadataSize = 2 << 20
	// maxMetadataSize is LVM's DEFAULT_THIN_POOL_MAX_METADATA_SIZE (15.81 GiB).
	maxMetadataSize = 16192 << 20
)

// ParseSize returns the pool's size as a percentage of its volume group
// (1 to 100) or as bytes; exactly one of the two is non-zero.
func (p PreparedThinPool) ParseSize() (percent int, bytes int64, err error) {
	if s, ok := strings.CutSuffix(p.Size, "%"); ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			return 0, 0, fmt.Errorf("%q is not a percentage from 1%% to 100%%", p.Size)
		}
		return n, 0, nil
	}
	q, err := resource.ParseQuantity(p.Size)
	if err != nil || q.Sign() <= 0 {
		return 0, 0, fmt.Errorf("%q is neither a share of the volume group (\"80%%\") nor a positive quantity (\"100Gi\")", p.Size)
	}
	return 0, q.Value(), nil
}

// Validate checks the declaration; every problem is an error naming its
// field under path.
func (p PreparedThinPool) Validate(path string) []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(path+format, args...)) }
	if err := lvm.ValidateName(p.Name); err != nil {
		add(".name: %v", err)
	}
	if _, _, err := p.ParseSize(); err != nil {
		add(".size: %v", err)
	}
	if q := p.ChunkSize; q != nil {
		if v := q.Value(); v < minChunkSize || v > maxChunkSize || v%minChunkSize != 0 {
			add(".chunkSize: %s is not a multiple of 64Ki from 64Ki to 1Gi", q)
		}
	}
	if q := p.MetadataSize; q != nil {
		if v := q.Value(); v < minMetadataSize || v > maxMetadataSize {
			add(".metadataSize: %s is not from 2Mi to 15.8Gi", q)
		}
	}
	return errs
}

// LoopFile is a sparse file attached to a loop device by prepare.
type LoopFile struct {
	Path string             `json:"path"`
	Size *resource.Quantity `json:"size"`
}

// Load reads a config file strictly (unknown keys are errors) and applies defaults.
func Load(path string) (*Config, error) { return configfile.Load[Config](path) }

// Parse decodes YAML strictly and applies defaults, without validating.
func Parse(data []byte) (*Config, error) { return configfile.Parse[Config](data) }

// Default fills unset fields.
func (c *Config) Default() {
	c.Settings.Default(DefaultSocketName)
	if c.Activation == "" {
		c.Activation = ActivationLVM
	}
	if c.LVM.Path == "" {
		c.LVM.Path = DefaultLVMPath
	}
	if c.LVM.Timeout == nil {
		c.LVM.Timeout = &metav1.Duration{Duration: DefaultLVMTimeout}
	}
	if c.LVM.Shell.Processes == nil {
		n := DefaultShellProcesses
		c.LVM.Shell.Processes = &n
	}
	if c.LVM.Shell.Profile == "" {
		c.LVM.Shell.Profile = DefaultShellProfile
	}
	for i := range c.DeviceClasses {
		dc := &c.DeviceClasses[i]
		if dc.Type == "" {
			dc.Type = TypeThick
		}
		if dc.Spare == nil && dc.Type == TypeThick {
			q := resource.MustParse(DefaultSpare)
			dc.Spare = &q
		}
		if dc.WipeOnRemove == "" {
			dc.WipeOnRemove = WipeNone
		}
	}
	for i := range c.VolumeGroups {
		if c.VolumeGroups[i].MinDeviceSize == nil {
			q := resource.MustParse("1Gi")
			c.VolumeGroups[i].MinDeviceSize = &q
		}
	}
}

// Validate checks the config; every problem is reported, one per line.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if len(c.DeviceClasses) == 0 {
		add("deviceClasses: at least one device class is required")
	}
	names := map[string]bool{}
	thinPools := map[string]bool{}
	defaults := 0
	for i, dc := range c.DeviceClasses {
		p := fmt.Sprintf("deviceClasses[%d]", i)
		if dc.Name == "" {
			add("%s.name: required", p)
		} else if names[dc.Name] {
			add("%s.name: %q is used twice", p, dc.Name)
		}
		names[dc.Name] = true
		if err := lvm.ValidateVGName(dc.VolumeGroup); err != nil {
			add("%s.volumeGroup: %v", p, err)
		}
		if dc.Default {
			defaults++
		}
		if dc.Spare != nil && dc.Spare.Sign() < 0 {
			add("%s.spare: must not be negative", p)
		}
		switch dc.WipeOnRemove {
		case "", WipeNone, WipeZero, WipeDiscard:
		default:
			add("%s.wipeOnRemove: %q is not %s, %s or %s", p, dc.WipeOnRemove, WipeDiscard, WipeZero, WipeNone)
		}
		switch dc.Type {
		case TypeThick:
			if dc.ThinPool != nil {
				add("%s.thinPool: only thin classes have a thin pool", p)
			}
			if dc.Stripes < 0 {
				add("%s.stripes: must not be negative", p)
			}
			if dc.StripeSize != "" && dc.Stripes < 2 {
				add("%s.stripeSize: needs stripes >= 2", p)
			}
		case TypeThin:
			if dc.ThinPool == nil {
				add("%s.thinPool: required for thin classes", p)
				break
			}
			if err := lvm.ValidateName(dc.ThinPool.Name); err != nil {
				add("%s.thinPool.name: %v", p, err)
			}
			key := dc.VolumeGroup + "/" + dc.ThinPool.Name
			if thinPools[key] {
				add("%s.thinPool: %s is used by two classes", p, key)
			}
			thinPools[key] = true
			if dc.ThinPool.OverprovisionRatio < 1 {
				add("%s.thinPool.overprovisionRatio: must be at least 1", p)
			}
			if dc.Stripes != 0 || dc.StripeSize != "" {
				add("%s: stripes apply to thick classes only", p)
			}
			if dc.WipeOnRemove == WipeZero {
				add("%s.wipeOnRemove: zero would allocate the whole volume in the thin pool before removing it; use discard (the pool unmaps the blocks) or none", p)
			}
		default:
			add("%s.type: %q is not thick or thin", p, dc.Type)
		}
	}
	if len(c.DeviceClasses) > 0 && defaults != 1 {
		add("deviceClasses: exactly one class must be the default, found %d", defaults)
	}
	ocNames := map[string]bool{}
	for i, oc := range c.LvcreateOptionClasses {
		p := fmt.Sprintf("lvcreateOptionClasses[%d]", i)
		if oc.Name == "" {
			add("%s.name: required", p)
		} else if ocNames[oc.Name] {
			add("%s.name: %q is used twice", p, oc.Name)
		}
		ocNames[oc.Name] = true
		if len(oc.Options) == 0 {
			add("%s.options: at least one option is required", p)
		}
		if _, err := ParseLayout(oc.Options); err != nil {
			add("%s.options: %v", p, err)
		}
	}
	vgNames := map[string]bool{}
	for i, vg := range c.VolumeGroups {
		p := fmt.Sprintf("volumeGroups[%d]", i)
		if err := lvm.ValidateVGName(vg.Name); err != nil {
			add("%s.name: %v", p, err)
		}
		if vgNames[vg.Name] {
			add("%s.name: %q is declared twice", p, vg.Name)
		}
		vgNames[vg.Name] = true
		if len(vg.Devices)+len(vg.LoopFiles) == 0 {
			add("%s: needs devices or loopFiles", p)
		}
		for j, lf := range vg.LoopFiles {
			if lf.Path == "" || lf.Size == nil || lf.Size.Sign() <= 0 {
				add("%s.loopFiles[%d]: path and a positive size are required", p, j)
			}
		}
		if vg.ThinPool != nil {
			errs = append(errs, vg.ThinPool.Validate(p+".thinPool")...)
		}
	}
	if err := c.Settings.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Activation != ActivationLVM && c.Activation != ActivationDevelopmentLoop {
		add("activation: %q is not %s or %s", c.Activation, ActivationLVM, ActivationDevelopmentLoop)
	}
	if c.LVM.Timeout != nil && c.LVM.Timeout.Duration <= 0 {
		add("lvm.timeout: must be positive")
	}
	if n := c.LVM.Shell.Processes; n != nil && (*n < 0 || *n > 64) {
		add("lvm.shell.processes: %d is not between 0 and 64", *n)
	}
	if strings.ContainsAny(c.LVM.Shell.Profile, "/\x00") {
		add("lvm.shell.profile: %q is a profile name, not a path", c.LVM.Shell.Profile)
	}
	for k := range c.LVM.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			add("lvm.env: %q is not a variable name", k)
		}
	}
	return errors.Join(errs...)
}

// EnvList returns LVM.Env as KEY=VALUE entries in a stable order.
func (s LVMSettings) EnvList() []string {
	out := make([]string, 0, len(s.Env))
	for k, v := range s.Env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// SpareBytes returns the class's spare space in bytes.
func (dc DeviceClass) SpareBytes() int64 {
	if dc.Spare == nil {
		return 0
	}
	return dc.Spare.Value()
}

// VolumeGroupNames returns the distinct volume groups the classes use.
func (c *Config) VolumeGroupNames() []string {
	seen := map[string]bool{}
	var out []string
	for _, dc := range c.DeviceClasses {
		if !seen[dc.VolumeGroup] {
			seen[dc.VolumeGroup] = true
			out = append(out, dc.VolumeGroup)
		}
	}
	return out
}
