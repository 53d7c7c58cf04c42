package app

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/toposuite/toposuite/internal/exec"
	"github.com/toposuite/toposuite/internal/exec/exectest"
	"github.com/toposuite/toposuite/lvmd/config"
	"github.com/toposuite/toposuite/lvmd/prepare"
)

const (
	lsblkLoop2 = "lsblk --json --bytes --paths --output NAME,KNAME,MAJ:MIN,TYPE,SIZE,RO,RM,MOUNTPOINTS,FSTYPE,PTTYPE,PKNAME,MODEL,SERIAL /dev/loop2"
	wipefsCmd  = "wipefs --no-act --json --output DEVICE,OFFSET,TYPE,USAGE,UUID,LABEL "
	pvsArgs    = " pvs -o pv_name,vg_name,pv_uuid,pv_size,pv_major,pv_minor --reportformat json --units b --nosuffix"
	vgsArgs    = " vgs -o vg_name,vg_uuid,vg_size,vg_free,vg_extent_size --reportformat json --units b --nosuffix "
	emptyVGs   = "  {\n      \"report\": [\n          {\n              \"vg\": [\n              ]\n          }\n      ]\n  }\n"
)

func readAppTestdata(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.FromSlash(path))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writePrepareConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "lvmd.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// scriptedRunner hands the script to the command and remembers the
// settings the runner was built from.
func scriptedRunner(s *exectest.Script, got *config.LVMSettings) runnerFunc {
	return func(ls config.LVMSettings) exec.Runner {
		*got = ls
		return s
	}
}

// prepareSteps are a prepare of vg1 on the blank /dev/loop2 with lvm at lvmPath.
func prepareSteps(t *testing.T, lvmPath, content string) []exectest.Step {
	return []exectest.Step{
		{Cmd: lvmPath + vgsArgs + "vg1", ExitCode: 5, Stdout: emptyVGs, Stderr: "  Volume group \"vg1\" not found\n"},
		{Cmd: lvmPath + pvsArgs, Stdout: readAppTestdata(t, "../../../lvmd/lvm/testdata/pvs-empty.json")},
		{Cmd: lsblkLoop2, Stdout: readAppTestdata(t, "../../../internal/disk/testdata/lsblk-loop.json")},
		{Cmd: wipefsCmd + "/dev/loop2", Stdout: readAppTestdata(t, "../../../internal/disk/testdata/wipefs-"+content+".json")},
	}
}

// A config with volumeGroups and no deviceClasses is enough for prepare.
const prepareConfig = `lvm:
  commandPrefix: [nsenter, -t, "1", -m, --]
  env: {LVM_SYSTEM_DIR: /etc/lvm-private}
volumeGroups:
- name: vg1
  devices: [/dev/loop2]
  minDeviceSize: 32Mi
`

func TestPrepareCommandCreates(t *testing.T) {
	s := exectest.New(t, prepareSteps(t, "/opt/lvm", "blank")...)
	s.Add(exectest.Step{Cmd: "/opt/lvm pvcreate /dev/loop2"}, exectest.Step{Cmd: "/opt/lvm vgcreate vg1 /dev/loop2"})
	var settings config.LVMSettings
	o := &Options{ConfigPath: writePrepareConfig(t, prepareConfig), LVMPath: "/opt/lvm"}
	cmd := prepareCommand(o, scriptedRunner(s, &settings))
	var stdout, stderr bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs(nil)
	if err := cmd.Execute(); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	var rep prepare.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("stdout is not a report: %v\n%s", err, stdout.String())
	}
	if len(rep.VolumeGroups) != 1 || rep.VolumeGroups[0].Result != prepare.ResultCreated {
		t.Errorf("report = %+v", rep)
	}
	if d := cmp.Diff([]string{"nsenter", "-t", "1", "-m", "--"}, settings.CommandPrefix); d != "" || settings.Env["LVM_SYSTEM_DIR"] != "/etc/lvm-private" {
		t.Errorf("runner settings = %+v", settings)
	}
	if !strings.Contains(stderr.String(), `"msg":"volume group","volumeGroup":"vg1","result":"created"`) {
		t.Errorf("log on stderr:\n%s", stderr.String())
	}
}

func TestPrepareCommandFailsOnRefusal(t *testing.T) {
	s := exectest.New(t, prepareSteps(t, "/sbin/lvm", "ext4")...)
	var settings config.LVMSettings
	cmd := prepareCommand(&Options{ConfigPath: writePrepareConfig(t, prepareConfig)}, scriptedRunner(s, &settings))
	var stdout bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&bytes.Buffer{})
	cmd.SetArgs([]string{"--dry-run"})
	err := cmd.Execute()
	if err == nil || !strings.Contains(err.Error(), "vg1: /dev/loop2: has a filesystem (ext4); list it under wipe to erase its signatures") {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(stdout.String(), `"action": "refuse"`) || !strings.Contains(stdout.String(), `"dryRun": true`) {
		t.Errorf("stdout:\n%s", stdout.String())
	}
}

// The chart's init container runs prepare with --keep-going: a refused
// device must not keep lvmd from starting, and the report file says why.
func TestPrepareCommandKeepsGoingOnRefusal(t *testing.T) {
	s := exectest.New(t, prepareSteps(t, "/sbin/lvm", "ext4")...)
	var settings config.LVMSettings
	cmd := prepareCommand(&Options{ConfigPath: writePrepareConfig(t, prepareConfig)}, scriptedRunner(s, &settings))
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	file := filepath.Join(t.TempDir(), "reports", "lvmd.json")
	cmd.SetArgs([]string{"--keep-going", "--report-file", file})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("err = %v, want none with --keep-going", err)
	}
	var rep prepare.Report
	if err := json.Unmarshal([]byte(readAppTestdata(t, file)), &rep); err != nil {
		t.Fatal(err)
	}
	if got := rep.Refusals(); len(got) != 1 || !strings.Contains(got[0], "/dev/loop2: has a filesystem (ext4)") {
		t.Errorf("refusals in the report file = %q", got)
	}
}

func TestPrepareCommandValidatesBeforeRunning(t *testing.T) {
	s := exectest.New(t)
	var settings config.LVMSettings
	p := writePrepareConfig(t, "volumeGroups:\n- name: vg1\n  devices: [sdb]\n  wipe: [/dev/sdc]\n")
	cmd := prepareCommand(&Options{ConfigPath: p}, scriptedRunner(s, &settings))
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	cmd.SetArgs(nil)
	err := cmd.Execute()
	if err == nil || !strings.Contains(err.Error(), `volumeGroups[0].devices[0]: "sdb" must be a clean absolute path`) ||
		!strings.Contains(err.Error(), `volumeGroups[0].wipe[0]: "/dev/sdc" is not one of this volume group's devices`) {
		t.Errorf("err = %v", err)
	}
	// Unknown keys are refused, as everywhere in lvmd's config.
	p = writePrepareConfig(t, "volumeGroups:\n- name: vg1\n  devices: [/dev/sdb]\n  wipeAll: true\n")
	cmd = prepareCommand(&Options{ConfigPath: p}, scriptedRunner(s, &settings))
	cmd.SetArgs(nil)
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "wipeAll") {
		t.Errorf("unknown key: err = %v", err)
	}
}
