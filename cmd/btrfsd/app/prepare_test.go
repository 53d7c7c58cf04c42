package app

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"

	"github.com/toposuite/toposuite/btrfsd/config"
	"github.com/toposuite/toposuite/btrfsd/prepare"
	"github.com/toposuite/toposuite/internal/exec/exectest"
	"github.com/toposuite/toposuite/lvmd/lvm"
)

const (
	lsblkLoop2 = "lsblk --json --bytes --paths --output NAME,KNAME,MAJ:MIN,TYPE,SIZE,RO,RM,MOUNTPOINTS,FSTYPE,PTTYPE,PKNAME,MODEL,SERIAL /dev/loop2"
	wipefsLoop = "wipefs --no-act --json --output DEVICE,OFFSET,TYPE,USAGE,UUID,LABEL /dev/loop2"
	pvsCmd     = "lvm pvs -o pv_name,vg_name,pv_uuid,pv_size,pv_major,pv_minor --reportformat json --units b --nosuffix"
	findmnt    = "findmnt --json --nofsroot --output TARGET,SOURCE,FSTYPE,OPTIONS --mountpoint /var/lib/topols/fast"
)

// A config with one pool of one 64Mi loop device.
const prepareConfig = `commands:
  prefix: [nsenter, -t, "1", -m, --]
  env: {LVM_SYSTEM_DIR: /etc/lvm-private}
pools:
- name: fast
  path: /var/lib/topols/fast
  default: true
  filesystem:
    devices: [/dev/loop2]
    mountOptions: [noatime]
    minDeviceSize: 32Mi
`

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
	p := filepath.Join(t.TempDir(), "btrfsd.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// inspectSteps inspect /dev/loop2 holding content (internal/disk's wipefs captures).
func inspectSteps(t *testing.T, content string) []exectest.Step {
	return []exectest.Step{
		{Cmd: pvsCmd, Stdout: readAppTestdata(t, "../../../lvmd/lvm/testdata/pvs-empty.json")},
		{Cmd: lsblkLoop2, Stdout: readAppTestdata(t, "../../../internal/disk/testdata/lsblk-loop.json")},
		{Cmd: wipefsLoop, Stdout: readAppTestdata(t, "../../../internal/disk/testdata/wipefs-"+content+".json")},
		{Cmd: findmnt, ExitCode: 1},
	}
}

type quotaOn struct{ paths []string }

func (q *quotaOn) Enabled(context.Context, string) (bool, error) { return true, nil }
func (q *quotaOn) Enable(_ context.Context, path string) error {
	q.paths = append(q.paths, path)
	return nil
}

// scripted builds the Preparer over the script and remembers the config.
func scripted(s *exectest.Script, q prepare.Quota, got **config.Config) preparerFunc {
	return func(cfg *config.Config, log logr.Logger) *prepare.Preparer {
		*got = cfg
		return prepare.New(s, lvm.New(s, "lvm"), q, log)
	}
}

func TestPrepareCommandCreates(t *testing.T) {
	s := exectest.New(t, inspectSteps(t, "blank")...)
	s.Add(
		exectest.Step{Cmd: "mkfs.btrfs -L topols-fast /dev/loop2", Stdout: readAppTestdata(t, "../../../btrfsd/prepare/testdata/mkfs-single.out")},
		exectest.Step{Cmd: "mkdir -p /var/lib/topols/fast"},
		exectest.Step{Cmd: "mount -t btrfs -o noatime /dev/loop2 /var/lib/topols/fast"},
		exectest.Step{Cmd: "btrfs filesystem show --raw /var/lib/topols/fast", Stdout: readAppTestdata(t, "../../../btrfsd/prepare/testdata/btrfs-show-path.out")},
	)
	q := &quotaOn{}
	var cfg *config.Config
	cmd := prepareCommand(&Options{ConfigPath: writePrepareConfig(t, prepareConfig)}, scripted(s, q, &cfg))
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
	if len(rep.Pools) != 1 || rep.Pools[0].Result != prepare.ResultCreated || !rep.Pools[0].QuotaEnabled {
		t.Errorf("report = %+v", rep)
	}
	if d := cmp.Diff([]string{"nsenter", "-t", "1", "-m", "--"}, cfg.Commands.Prefix); d != "" || cfg.Commands.Env["LVM_SYSTEM_DIR"] != "/etc/lvm-private" {
		t.Errorf("commands = %+v", cfg.Commands)
	}
	if d := cmp.Diff([]string{"/var/lib/topols/fast"}, q.paths); d != "" {
		t.Errorf("quotas enabled on (-want +got):\n%s", d)
	}
	if !strings.Contains(stderr.String(), `"msg":"pool","pool":"fast","path":"/var/lib/topols/fast","result":"created"`) {
		t.Errorf("log on stderr:\n%s", stderr.String())
	}
}

func TestPrepareCommandFailsOnRefusal(t *testing.T) {
	s := exectest.New(t, inspectSteps(t, "ext4")...)
	var cfg *config.Config
	cmd := prepareCommand(&Options{ConfigPath: writePrepareConfig(t, prepareConfig)}, scripted(s, &quotaOn{}, &cfg))
	var stdout bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&bytes.Buffer{})
	cmd.SetArgs([]string{"--dry-run"})
	err := cmd.Execute()
	if err == nil || !strings.Contains(err.Error(), "fast: /dev/loop2: has a filesystem (ext4); list it under wipe to erase its signatures") {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(stdout.String(), `"action": "refuse"`) || !strings.Contains(stdout.String(), `"dryRun": true`) {
		t.Errorf("stdout:\n%s", stdout.String())
	}
}

// The chart's init container runs prepare with --keep-going: a refused
// device must not keep the node plugin from starting, and the report file
// says why.
func TestPrepareCommandKeepsGoingOnRefusal(t *testing.T) {
	s := exectest.New(t, inspectSteps(t, "ext4")...)
	var cfg *config.Config
	cmd := prepareCommand(&Options{ConfigPath: writePrepareConfig(t, prepareConfig)}, scripted(s, &quotaOn{}, &cfg))
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	file := filepath.Join(t.TempDir(), "btrfsd.json")
	cmd.SetArgs([]string{"--keep-going", "--report-file", file})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("err = %v, want none with --keep-going", err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var rep prepare.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Pools) != 1 || rep.Pools[0].Result != prepare.ResultRefused {
		t.Errorf("report file = %s", b)
	}
}

func TestPrepareCommandValidatesBeforeRunning(t *testing.T) {
	s := exectest.New(t)
	var cfg *config.Config
	for body, want := range map[string]string{
		strings.Replace(prepareConfig, "    minDeviceSize: 32Mi\n", "    dataProfile: raid1\n    wipe: [/dev/sdc]\n", 1): `pools[0].filesystem.wipe[0]: "/dev/sdc" is not one of this pool's devices`,
		strings.Replace(prepareConfig, "    minDeviceSize: 32Mi\n", "    dataProfile: raid1\n", 1):                       "pools[0].filesystem.dataProfile: raid1 needs at least 2 devices, 1 declared",
		// The whole config is validated, strictly.
		strings.Replace(prepareConfig, "  default: true\n", "", 1):                                     "exactly one pool must be the default",
		strings.Replace(prepareConfig, "    minDeviceSize", "    wipeAll: true\n    minDeviceSize", 1): "wipeAll",
	} {
		cmd := prepareCommand(&Options{ConfigPath: writePrepareConfig(t, body)}, scripted(s, &quotaOn{}, &cfg))
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		cmd.SetArgs(nil)
		if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
}

func TestPrepareIsASubcommand(t *testing.T) {
	cmd := newCommand(func(context.Context, *config.Config, logr.Logger) error { return nil })
	if sub, _, err := cmd.Find([]string{"prepare"}); err != nil || sub.Name() != "prepare" {
		t.Errorf("prepare: %v, %v", sub, err)
	}
}
