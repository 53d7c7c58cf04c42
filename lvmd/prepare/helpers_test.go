package prepare

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-logr/logr/testr"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/toposuite/toposuite/internal/disk"
	"github.com/toposuite/toposuite/internal/exec/exectest"
	"github.com/toposuite/toposuite/lvmd/config"
	"github.com/toposuite/toposuite/lvmd/lvm"
)

// The scripted steps below replay what lsblk, wipefs, losetup and LVM
// printed on this machine; the wipefs and LVM texts are the captured files
// of internal/disk/testdata and lvmd/lvm/testdata.

const (
	mib = int64(1) << 20

	lsblkCmd  = "lsblk --json --bytes --paths --output NAME,KNAME,MAJ:MIN,TYPE,SIZE,RO,RM,MOUNTPOINTS,FSTYPE,PTTYPE,PKNAME,MODEL,SERIAL "
	wipefsCmd = "wipefs --no-act --json --output DEVICE,OFFSET,TYPE,USAGE,UUID,LABEL "
	pvsCmd    = "lvm pvs -o pv_name,vg_name,pv_uuid,pv_size,pv_major,pv_minor --reportformat json --units b --nosuffix"
	vgsCmd    = "lvm vgs -o vg_name,vg_uuid,vg_size,vg_free,vg_extent_size --reportformat json --units b --nosuffix "
	losetupJ  = "losetup --list --json --output NAME,BACK-FILE,OFFSET,SIZELIMIT,RO --associated "
)

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.FromSlash(path))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sig returns wipefs's output for a kind of content: blank, ext4, dos,
// lvm2-member.
func sig(t testing.TB, kind string) string {
	return readFile(t, "../../internal/disk/testdata/wipefs-"+kind+".json")
}

// loopDev describes a loop device for lsblk's output.
type loopDev struct {
	n      int // /dev/loopN, device number 7:N
	size   int64
	mounts []string
	ro     bool
}

func (d loopDev) path() string { return fmt.Sprintf("/dev/loop%d", d.n) }

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
		{Cmd: wipefsCmd + d.path(), Stdout: sig(t, kind)},
	}
}

type pvRow struct {
	n  int
	vg string
}

// pvs prints LVM's PV report with the given PVs.
func pvs(rows ...pvRow) string {
	var items []string
	for _, r := range rows {
		items = append(items, fmt.Sprintf(`{"pv_name":"/dev/loop%d", "vg_name":%q, "pv_uuid":"u%d", "pv_size":"62914560", "pv_major":"7", "pv_minor":"%d"}`, r.n, r.vg, r.n, r.n))
	}
	return "  {\n      \"report\": [\n          {\n              \"pv\": [\n                  " + strings.Join(items, ",\n                  ") + "\n              ]\n          }\n      ]\n  }\n"
}

// vgExists answers `vgs NAME`: the real report when it exists, LVM's
// "not found" otherwise.
func vgExists(name string, exists bool) exectest.Step {
	if exists {
		return exectest.Step{Cmd: vgsCmd + name, Stdout: fmt.Sprintf(`  {"report": [{"vg": [{"vg_name":%q, "vg_uuid":"K8wIzf", "vg_size":"125829120", "vg_free":"125829120", "vg_extent_size":"4194304"}]}]}`, name)}
	}
	return exectest.Step{
		Cmd: vgsCmd + name, ExitCode: 5,
		Stdout: "  {\n      \"report\": [\n          {\n              \"vg\": [\n              ]\n          }\n      ]\n  }\n",
		Stderr: fmt.Sprintf("  WARNING: Activation disabled. No device-mapper interaction will be attempted.\n  Volume group %q not found\n  Cannot process volume group %s\n", name, name),
	}
}

func steps(groups ...[]exectest.Step) []exectest.Step {
	var out []exectest.Step
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

func one(s exectest.Step) []exectest.Step { return []exectest.Step{s} }

func newPreparer(t *testing.T, s *exectest.Script) *Preparer {
	return New(disk.New(s), lvm.New(s, "lvm"), testr.New(t))
}

func quantity(s string) *resource.Quantity {
	q := resource.MustParse(s)
	return &q
}

// volumeGroup declares name on the devices, with a 32Mi minimum size so
// that the 64Mi loop devices of the tests pass.
func volumeGroup(name string, devs ...string) config.VolumeGroup {
	return config.VolumeGroup{Name: name, Devices: devs, MinDeviceSize: quantity("32Mi")}
}

// actions returns device -> action of a VG report.
func actions(r VGReport) map[string]Action {
	out := map[string]Action{}
	for _, d := range r.Devices {
		out[d.name()] = d.Action
	}
	return out
}
