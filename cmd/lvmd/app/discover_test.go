package app

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/toposuite/toposuite/internal/disk"
	"github.com/toposuite/toposuite/internal/exec/exectest"
	"github.com/toposuite/toposuite/lvmd/config"
)

func TestDiscoverCommandWithoutConfigFile(t *testing.T) {
	s := exectest.New(t,
		exectest.Step{Cmd: "lsblk --json --bytes --paths --output NAME,KNAME,MAJ:MIN,TYPE,SIZE,RO,RM,MOUNTPOINTS,FSTYPE,PTTYPE,PKNAME,MODEL,SERIAL --all",
			Stdout: readAppTestdata(t, "../../../internal/disk/testdata/lsblk-loop.json")},
		exectest.Step{Cmd: "/sbin/lvm" + pvsArgs, Stdout: readAppTestdata(t, "../../../lvmd/lvm/testdata/pvs-empty.json")},
		exectest.Step{Cmd: wipefsCmd + "/dev/loop2", Stdout: readAppTestdata(t, "../../../internal/disk/testdata/wipefs-blank.json")},
	)
	var settings config.LVMSettings
	// The default path, not given on the command line, does not exist.
	o := &Options{ConfigPath: filepath.Join(t.TempDir(), "lvmd.yaml")}
	cmd := discoverCommand(o, scriptedRunner(s, &settings))
	var stdout bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&bytes.Buffer{})
	cmd.SetArgs([]string{"--include-loop", "--min-size", "64Mi"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	var inv disk.Inventory
	if err := json.Unmarshal(stdout.Bytes(), &inv); err != nil {
		t.Fatalf("stdout is not an inventory: %v\n%s", err, stdout.String())
	}
	if len(inv.Devices) != 1 || !inv.Devices[0].Free || inv.Devices[0].Path != "/dev/loop2" {
		t.Errorf("inventory = %+v", inv)
	}
	if settings.Path != config.DefaultLVMPath {
		t.Errorf("lvm path = %q, want the default", settings.Path)
	}
}

func TestDiscoverCommandErrors(t *testing.T) {
	s := exectest.New(t)
	var settings config.LVMSettings
	cmd := discoverCommand(&Options{}, scriptedRunner(s, &settings))
	cmd.SetArgs([]string{"--min-size", "lots"})
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), `--min-size "lots"`) {
		t.Errorf("bad --min-size: %v", err)
	}
	// A config named on the command line must exist; the root command
	// defines --config, so it is parsed from there.
	root := newCommand(nil)
	root.SetArgs([]string{"discover", "--config", filepath.Join(t.TempDir(), "missing.yaml")})
	root.SetOut(&bytes.Buffer{})
	root.SetErr(&bytes.Buffer{})
	if err := root.Execute(); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing explicit config: %v", err)
	}
}
