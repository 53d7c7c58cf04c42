package config

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestLoadFull(t *testing.T) {
	c, err := Load("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.PollInterval.Duration != 2*time.Second || c.LVM.Timeout.Duration != 5*time.Minute {
		t.Errorf("durations: %v %v", c.PollInterval, c.LVM.Timeout)
	}
	if got := c.DeviceClasses[0].SpareBytes(); got != 10<<30 {
		t.Errorf("spare = %d", got)
	}
	if got := c.DeviceClasses[1].SpareBytes(); got != 0 {
		t.Errorf("thin classes have no spare; got %d", got)
	}
	if got := c.LVM.EnvList(); len(got) != 1 || got[0] != "LVM_SYSTEM_DIR=/etc/lvm" {
		t.Errorf("env = %v", got)
	}
	if got := c.VolumeGroupNames(); len(got) != 1 || got[0] != "vg-ssd" {
		t.Errorf("VGs = %v", got)
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse([]byte("deviceClasses: [{name: a, volumeGroup: vg, default: true}]"))
	if err != nil {
		t.Fatal(err)
	}
	if c.SocketName != DefaultSocketName || c.LVM.Path != DefaultLVMPath || c.PollInterval.Duration != time.Second {
		t.Errorf("defaults not applied: %+v", c)
	}
	if *c.LVM.Shell.Processes != DefaultShellProcesses || c.LVM.Shell.Profile != "lvmdbusd" {
		t.Errorf("shell defaults: %+v", c.LVM.Shell)
	}
	if c.DeviceClasses[0].Type != TypeThick || c.DeviceClasses[0].SpareBytes() != 10<<30 {
		t.Errorf("class defaults: %+v", c.DeviceClasses[0])
	}
}

func TestBadConfigs(t *testing.T) {
	cases := map[string]struct{ yaml, want string }{
		"unknown key":         {"deviceClasses: [{name: a, volumeGroup: vg, default: true, spare-gb: 10}]", "unknown field"},
		"unknown top key":     {"device-classes: []", "unknown field"},
		"duplicate key":       {"socketName: a\nsocketName: b\ndeviceClasses: [{name: a, volumeGroup: vg, default: true}]", "already set"},
		"two defaults":        {"deviceClasses: [{name: a, volumeGroup: vg, default: true}, {name: b, volumeGroup: vg, default: true}]", "exactly one class must be the default, found 2"},
		"no default":          {"deviceClasses: [{name: a, volumeGroup: vg}]", "exactly one class must be the default, found 0"},
		"no classes":          {"socketName: /x", "at least one device class"},
		"duplicate class":     {"deviceClasses: [{name: a, volumeGroup: vg, default: true}, {name: a, volumeGroup: vg2}]", `"a" is used twice`},
		"bad vg name":         {"deviceClasses: [{name: a, volumeGroup: 'v g', default: true}]", "not a valid LVM name"},
		"thin without pool":   {"deviceClasses: [{name: a, volumeGroup: vg, default: true, type: thin}]", "required for thin classes"},
		"ratio below one":     {"deviceClasses: [{name: a, volumeGroup: vg, default: true, type: thin, thinPool: {name: p, overprovisionRatio: 0.5}}]", "at least 1"},
		"bad type":            {"deviceClasses: [{name: a, volumeGroup: vg, default: true, type: raid}]", "is not thick or thin"},
		"negative spare":      {"deviceClasses: [{name: a, volumeGroup: vg, default: true, spare: -1Gi}]", "must not be negative"},
		"stripe size alone":   {"deviceClasses: [{name: a, volumeGroup: vg, default: true, stripeSize: 64k}]", "needs stripes >= 2"},
		"forbidden option":    {"deviceClasses: [{name: a, volumeGroup: vg, default: true}]\nlvcreateOptionClasses: [{name: x, options: [--size=1G]}]", "set by lvmd"},
		"unsupported segtype": {"deviceClasses: [{name: a, volumeGroup: vg, default: true}]\nlvcreateOptionClasses: [{name: x, options: [--type=cache]}]", "not supported"},
		"empty options":       {"deviceClasses: [{name: a, volumeGroup: vg, default: true}]\nlvcreateOptionClasses: [{name: x}]", "at least one option"},
		"vg without devices":  {"deviceClasses: [{name: a, volumeGroup: vg, default: true}]\nvolumeGroups: [{name: vg}]", "needs devices or loopFiles"},
		"bad duration":        {"pollInterval: soon\ndeviceClasses: [{name: a, volumeGroup: vg, default: true}]", "invalid duration"},
		"negative shells":     {"lvm: {shell: {processes: -1}}\ndeviceClasses: [{name: a, volumeGroup: vg, default: true}]", "not between 0 and 64"},
		"profile path":        {"lvm: {shell: {profile: /etc/lvm/profile/x.profile}}\ndeviceClasses: [{name: a, volumeGroup: vg, default: true}]", "a profile name, not a path"},
		"zero poll":           {"pollInterval: 0s\ndeviceClasses: [{name: a, volumeGroup: vg, default: true}]", "must be positive"},
		"unknown wipe mode":   {"deviceClasses: [{name: a, volumeGroup: vg, default: true, wipeOnRemove: shred}]", `deviceClasses[0].wipeOnRemove: "shred" is not discard, zero or none`},
		"wipe mode case":      {"deviceClasses: [{name: a, volumeGroup: vg, default: true, wipeOnRemove: Zero}]", `"Zero" is not discard, zero or none`},
		"zero wipe on thin":   {"deviceClasses: [{name: a, volumeGroup: vg, default: true, type: thin, wipeOnRemove: zero, thinPool: {name: p, overprovisionRatio: 1}}]", "deviceClasses[0].wipeOnRemove: zero would allocate the whole volume in the thin pool"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := Parse([]byte(tc.yaml))
			if err == nil {
				err = c.Validate()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	if _, err := Load("testdata/nope.yaml"); !os.IsNotExist(err) {
		t.Errorf("err = %v", err)
	}
}

func FuzzParse(f *testing.F) {
	b, _ := os.ReadFile("testdata/full.yaml")
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		_ = c.Validate()
	})
}

func TestKeysAreCaseSensitive(t *testing.T) {
	if _, err := Parse([]byte("socketname: /x\ndeviceClasses: [{name: a, volumeGroup: vg, default: true}]")); err == nil {
		t.Error("socketname accepted for socketName")
	}
}

func TestPreparedThinPool(t *testing.T) {
	const vg = "deviceClasses: [{name: a, volumeGroup: vg, default: true}]\nvolumeGroups: [{name: vg, devices: [/dev/sdb], thinPool: "
	c, err := Parse([]byte(vg + "{name: pool0, size: 80%, chunkSize: 128Ki, metadataSize: 64Mi}}]"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("valid thin pool refused: %v", err)
	}
	if pct, b, err := c.VolumeGroups[0].ThinPool.ParseSize(); pct != 80 || b != 0 || err != nil {
		t.Errorf("80%% parsed as %d%%, %d bytes, %v", pct, b, err)
	}
	if pct, b, err := (PreparedThinPool{Size: "10Gi"}).ParseSize(); pct != 0 || b != 10<<30 || err != nil {
		t.Errorf("10Gi parsed as %d%%, %d bytes, %v", pct, b, err)
	}
	for decl, want := range map[string]string{
		"{size: 50%}":                                   "volumeGroups[0].thinPool.name: volume name is empty",
		"{name: p_tmeta, size: 50%}":                    `volumeGroups[0].thinPool.name: volume name "p_tmeta" contains "_tmeta"`,
		"{name: p}":                                     `volumeGroups[0].thinPool.size: "" is neither a share`,
		"{name: p, size: 0%}":                           `volumeGroups[0].thinPool.size: "0%" is not a percentage from 1% to 100%`,
		"{name: p, size: 101%}":                         `"101%" is not a percentage from 1% to 100%`,
		"{name: p, size: half}":                         `"half" is neither a share of the volume group ("80%") nor a positive quantity ("100Gi")`,
		"{name: p, size: -1Gi}":                         `"-1Gi" is neither a share`,
		"{name: p, size: 1Gi, chunkSize: 32Ki}":         "volumeGroups[0].thinPool.chunkSize: 32Ki is not a multiple of 64Ki from 64Ki to 1Gi",
		"{name: p, size: 1Gi, chunkSize: 96Ki}":         "chunkSize: 96Ki is not a multiple of 64Ki",
		"{name: p, size: 1Gi, metadataSize: 1Mi}":       "volumeGroups[0].thinPool.metadataSize: 1Mi is not from 2Mi to 15.8Gi",
		"{name: p, size: 1Gi, metadataSize: 16Gi}":      "metadataSize: 16Gi is not from 2Mi to 15.8Gi",
		"{name: p, size: 1Gi, overprovisionRatio: 2.0}": "unknown field",
	} {
		c, err := Parse([]byte(vg + decl + "}]"))
		if err == nil {
			err = c.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want it to mention %q", decl, err, want)
		}
	}
}
