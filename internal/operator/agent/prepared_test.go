package agent

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	btrfsprepare "github.com/toposuite/toposuite/btrfsd/prepare"
	"github.com/toposuite/toposuite/internal/operator/report"
	lvmprepare "github.com/toposuite/toposuite/lvmd/prepare"
)

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestReadPrepared(t *testing.T) {
	dir := t.TempDir()
	lvmdFile, btrfsdFile := filepath.Join(dir, "lvmd.json"), filepath.Join(dir, "btrfsd.json")
	writeJSON(t, lvmdFile, lvmprepare.Report{VolumeGroups: []lvmprepare.VGReport{
		{Name: "vg1", Result: lvmprepare.ResultRefused, Devices: []lvmprepare.DeviceReport{
			{Device: "/dev/sdb", Action: lvmprepare.ActionKeep},
			{Device: "/dev/sdc", Action: lvmprepare.ActionRefuse, Reason: "has a filesystem (ext4); list it under wipe to erase its signatures"},
		}},
		{Name: "vg2", Result: lvmprepare.ResultFailed, Error: "vgcreate: exit status 5", Devices: []lvmprepare.DeviceReport{
			{LoopFile: "/var/disk.img", Action: lvmprepare.ActionRefuse, Reason: "is read-only"},
		}},
	}})
	writeJSON(t, btrfsdFile, btrfsprepare.Report{Pools: []btrfsprepare.PoolReport{
		{Name: "fast", Path: "/mnt/fast", Result: btrfsprepare.ResultUnchanged, Devices: []btrfsprepare.DeviceReport{
			{Device: "/dev/sdd", Action: btrfsprepare.ActionKeep}}},
		{Name: "slow", Path: "/mnt/slow", Result: btrfsprepare.ResultRefused, Reason: "is a mount point of ext4", Devices: []btrfsprepare.DeviceReport{
			{Device: "/dev/sde", Action: btrfsprepare.ActionUse},
			{Device: "/dev/sdf", Action: btrfsprepare.ActionRefuse, Reason: "is mounted at /data"}}},
	}, Warnings: []string{"cannot list LVM physical volumes"}})

	got := readPrepared(lvmdFile, btrfsdFile)
	want := prepared{
		vgRefused: map[string][]report.Refusal{
			"vg1": {{Device: "/dev/sdc", Reason: "has a filesystem (ext4); list it under wipe to erase its signatures"}},
			"vg2": {{Device: "/var/disk.img", Reason: "is read-only"}},
		},
		vgDeclared: []string{"vg1", "vg2"},
		pools: []report.Pool{
			{Name: "fast", Path: "/mnt/fast", Devices: []string{"/dev/sdd"}},
			// A refused pool has no filesystem yet, so no devices.
			{Name: "slow", Path: "/mnt/slow", Refused: []report.Refusal{
				{Device: "/mnt/slow", Reason: "is a mount point of ext4"}, {Device: "/dev/sdf", Reason: "is mounted at /data"}}},
		},
		errors: []string{"lvmd prepare: volume group vg2: vgcreate: exit status 5", "btrfsd prepare: cannot list LVM physical volumes"},
	}
	if d := cmp.Diff(want, got, cmp.AllowUnexported(prepared{})); d != "" {
		t.Errorf("readPrepared (-want +got):\n%s", d)
	}

	// No prepare ran: nothing, and no error.
	none := readPrepared(filepath.Join(dir, "missing.json"), "")
	if len(none.vgDeclared)+len(none.pools)+len(none.errors) != 0 {
		t.Errorf("readPrepared without files = %+v", none)
	}
	// A broken file is an error, not a silent nothing.
	if err := os.WriteFile(lvmdFile, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if broken := readPrepared(lvmdFile, ""); len(broken.errors) != 1 {
		t.Errorf("readPrepared of a broken file: errors %q", broken.errors)
	}
}
