package config

import (
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
	p := c.Pools[0]
	if Bytes(p.Budget, 0) != 500<<30 || Bytes(p.Spare, 0) != 10<<30 || !p.EnableQuota || p.Filesystem.DataProfile != "raid1" {
		t.Errorf("pool = %+v", p)
	}
	if Bytes(c.Pools[1].Budget, 42) != 42 {
		t.Errorf("unset budget must take the default")
	}
	if c.PollInterval.Duration != time.Second || c.SocketName != "/run/topols/btrfsd.sock" || c.Commands.Timeout.Duration != 5*time.Minute {
		t.Errorf("settings = %+v", c.Settings)
	}
}

func TestBadConfigs(t *testing.T) {
	cases := map[string]struct{ yaml, want string }{
		"unknown key":    {"pools: [{name: a, path: /p, default: true, quota: on}]", "unknown field"},
		"no pools":       {"socketName: /s", "at least one pool"},
		"two defaults":   {"pools: [{name: a, path: /p, default: true}, {name: b, path: /q, default: true}]", "exactly one pool must be the default, found 2"},
		"relative path":  {"pools: [{name: a, path: p, default: true}]", "clean absolute path"},
		"unclean path":   {"pools: [{name: a, path: /p/../q, default: true}]", "clean absolute path"},
		"shared path":    {"pools: [{name: a, path: /p, default: true}, {name: b, path: /p}]", "used by two pools"},
		"bad name":       {"pools: [{name: 'a/b', path: /p, default: true}]", "may only contain"},
		"zero budget":    {"pools: [{name: a, path: /p, default: true, budget: 0}]", "budget: must be positive"},
		"negative spare": {"pools: [{name: a, path: /p, default: true, spare: -1}]", "must not be negative"},
		"bad profile":    {"pools: [{name: a, path: /p, default: true, filesystem: {devices: [/dev/x], dataProfile: raid7}}]", "unknown profile"},
		"no devices":     {"pools: [{name: a, path: /p, default: true, filesystem: {}}]", "at least one device"},
		"bad poll":       {"pollInterval: -1s\npools: [{name: a, path: /p, default: true}]", "must be positive"},
		"duplicate key":  {"pools: []\npools: []", "already set"},
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
