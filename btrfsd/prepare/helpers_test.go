package prepare

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/toposuite/toposuite/btrfsd/config"
	"github.com/toposuite/toposuite/internal/exec/exectest"
	"github.com/toposuite/toposuite/lvmd/lvm"
)

// The scripted steps replay what lsblk, wipefs, findmnt, btrfs, mkfs.btrfs
// and mount printed on this machine: the captures in testdata (taken on
// loop devices: /dev/loop2 holds the single-device filesystem labelled
// topols-fast, /dev/loop3 and /dev/loop4 the raid1 one labelled
// topols-mirror, /dev/loop5 one without a label) and those of
// internal/disk/testdata and lvmd/lvm/testdata.

const (
	mib = int64(1) << 20

	lsblkCmd   = "lsblk --json --bytes --paths --output NAME,KNAME,MAJ:MIN,TYPE,SIZE,RO,RM,MOUNTPOINTS,FSTYPE,PTTYPE,PKNAME,MODEL,SERIAL "
	wipefsCmd  = "wipefs --no-act --json --output DEVICE,OFFSET,TYPE,USAGE,UUID,LABEL "
	pvsCmd     = "lvm pvs -o pv_name,vg_name,pv_uuid,pv_size,pv_major,pv_minor --reportformat json --units b --nosuffix"
	findmntCmd = "findmnt --json --nofsroot --output TARGET,SOURCE,FSTYPE,OPTIONS --mountpoint "
	showCmd    = "btrfs filesystem show --raw"

	// The pool paths of the captures.
	pathFast   = "/tmp/toposuite-it-capWUuq/m1"
	pathMirror = "/tmp/toposuite-it-capWUuq/m2"

	uuidFast   = "53db9e2c-672e-471c-923c-499e5a7cbf08"
	uuidMirror = "5e3da63e-fdfd-4ee9-ad24-899e03d8843d"
	uuidNoLbl  = "c24c5ab6-eb5a-438c-9228-8bb39bf855fe"
)

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.FromSlash(path))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func testdata(t testing.TB, name string) string { return readFile(t, "testdata/"+name) }

// content returns wipefs's output for a kind of content: the btrfs
// captures of this package (btrfs-single, btrfs-raid1-a, btrfs-raid1-b,
// btrfs-nolabel) or internal/disk's (blank, ext4, ext4-and-dos, dos,
// lvm2-member).
func content(t testing.TB, kind string) string {
	if strings.HasPrefix(kind, "btrfs-") {
		return testdata(t, "wipefs-"+kind+".json")
	}
	return readFile(t, "../../internal/disk/testdata/wipefs-"+kind+".json")
}

// loopDev describes a loop device for lsblk's output.
type loopDev struct {
	n      int // /dev/loopN, device number 7:N
	size   int64
	mounts []string
	ro     bool
}

var (
	loop2 = loopDev{n: 2, size: 256 * mib}
	loop3 = loopDev{n: 3, size: 256 * mib}
	loop4 = loopDev{n: 4, size: 256 * mib}
	loop5 = loopDev{n: 5, size: 256 * mib}
	// loop6 is in no capture: a blank device.
	loop6 = loopDev{n: 6, size: 256 * mib}
)

func (d loopDev) path() string { return fmt.Sprintf("/dev/loop%d", d.n) }

func (d loopDev) mountedAt(mps ...string) loopDev {
	d.mounts = mps
	return d
}

// lsblk prints d in the shape lsblk 2.38 does (see internal/disk/testdata).
func (d loopDev) lsblk() string {
	mps := "null"
	if len(d.mounts) > 0 {
		mps = `"` + strings.Join(d.mounts, `", "`) + `"`
	}
	return fmt.Sprintf(`{"blockdevices": [{"name": %q, "kname": %q, "maj:min": "7:%d", "type": "loop", "size": %d, "ro": %v, "rm": false,
  "mountpoints": [%s], "fstype": null, "pttype": null, "pkname": null, "model": null, "serial": null}]}`,
		d.path(), d.path(), d.n, d.size, d.ro, mps)
}

// inspect returns the two steps that inspect d holding content kind.
func inspect(t testing.TB, d loopDev, kind string) []exectest.Step {
	return []exectest.Step{
		{Cmd: lsblkCmd + d.path(), Stdout: d.lsblk()},
		{Cmd: wipefsCmd + d.path(), Stdout: content(t, kind)},
	}
}

func noPVs(t testing.TB) exectest.Step {
	return exectest.Step{Cmd: pvsCmd, Stdout: readFile(t, "../../lvmd/lvm/testdata/pvs-empty.json")}
}

// notMounted is findmnt on a path that is not a mount point.
func notMounted(path string) exectest.Step {
	return exectest.Step{Cmd: findmntCmd + path, ExitCode: 1}
}

// showAll are the two listings prepare reads when a declared device holds
// btrfs and the pool path is not a btrfs mount; mounted "" is btrfs's
// answer when no btrfs is mounted: exit code 1 and no output.
func showAll(t testing.TB, mounted, all string) []exectest.Step {
	m := exectest.Step{Cmd: showCmd + " --mounted", ExitCode: 1}
	if mounted != "" {
		m = exectest.Step{Cmd: showCmd + " --mounted", Stdout: testdata(t, mounted)}
	}
	return []exectest.Step{m, {Cmd: showCmd, Stdout: testdata(t, all)}}
}

func steps(groups ...[]exectest.Step) []exectest.Step {
	var out []exectest.Step
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

func one(s ...exectest.Step) []exectest.Step { return s }

// fakeQuota stands for the kernel: enabled holds the UUIDs of filesystems
// with quotas on, Enable records the paths it was called for.
type fakeQuota struct {
	mu      sync.Mutex
	enabled map[string]bool
	calls   []string
}

func (q *fakeQuota) Enabled(_ context.Context, fsid string) (bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.enabled[fsid], nil
}

func (q *fakeQuota) Enable(_ context.Context, path string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.calls = append(q.calls, path)
	return nil
}

func quantity(s string) *resource.Quantity {
	q := resource.MustParse(s)
	return &q
}

// pool declares name at path on devs, with a 32Mi minimum device size.
func pool(name, path string, devs ...string) config.Pool {
	return config.Pool{Name: name, Path: path, Filesystem: &config.Filesystem{Devices: devs, MinDeviceSize: quantity("32Mi")}}
}

func withWipe(p config.Pool, devs ...string) config.Pool {
	fs := *p.Filesystem
	fs.Wipe = devs
	p.Filesystem = &fs
	return p
}

// run prepares pools with the script and the quota fake.
func run(t *testing.T, s *exectest.Script, q *fakeQuota, o Options, pools ...config.Pool) (*Report, error) {
	t.Helper()
	p := New(s, lvm.New(s, "lvm"), q, testr.New(t))
	rep, err := p.Prepare(context.Background(), pools, o)
	if rep == nil {
		t.Fatal("no report")
	}
	return rep, err
}

// actions returns device -> action of a pool report.
func actions(r PoolReport) map[string]Action {
	out := map[string]Action{}
	for _, d := range r.Devices {
		out[d.Device] = d.Action
	}
	return out
}

func testrLogger(t *testing.T) logr.Logger { return testr.New(t) }
