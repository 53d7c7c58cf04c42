package disk

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/toposuite/toposuite/internal/exec/exectest"
	"github.com/toposuite/toposuite/internal/storage"
	"github.com/toposuite/toposuite/lvmd/lvm"
)

const (
	lsblkCmd  = "lsblk --json --bytes --paths --output NAME,KNAME,MAJ:MIN,TYPE,SIZE,RO,RM,MOUNTPOINTS,FSTYPE,PTTYPE,PKNAME,MODEL,SERIAL"
	wipefsCmd = "wipefs --no-act --json --output DEVICE,OFFSET,TYPE,USAGE,UUID,LABEL "
	pvsCmd    = "lvm pvs -o pv_name,vg_name,pv_uuid,pv_size,pv_major,pv_minor --reportformat json --units b --nosuffix"
)

func TestGetNotABlockDevice(t *testing.T) {
	s := exectest.New(t, exectest.Step{
		Cmd: lsblkCmd + " /dev/nonexistent", ExitCode: 32,
		Stdout: "{\n   \"blockdevices\": [\n\n   ]\n}\n", Stderr: string(readTestdata(t, "lsblk-not-found.stderr")),
	})
	_, err := New(s).Get(context.Background(), "/dev/nonexistent")
	if !errors.Is(err, storage.ErrNotFound) || err.Error() != "/dev/nonexistent: not a block device" {
		t.Errorf("err = %v, want ErrNotFound", err)
	}
}

// lsblk before util-linux 2.37 has no MOUNTPOINTS column; the client asks
// again with MOUNTPOINT.
func TestGetFallsBackToMountpoint(t *testing.T) {
	s := exectest.New(t,
		// The captured message is for another column name; lsblk words it the same.
		exectest.Step{Cmd: lsblkCmd + " /dev/loop3", ExitCode: 1, Stderr: string(readTestdata(t, "lsblk-unknown-column.stderr"))},
		exectest.Step{
			Cmd:    "lsblk --json --bytes --paths --output NAME,KNAME,MAJ:MIN,TYPE,SIZE,RO,RM,MOUNTPOINT,FSTYPE,PTTYPE,PKNAME,MODEL,SERIAL /dev/loop3",
			Stdout: `{"blockdevices": [{"name": "/dev/loop3", "maj:min": "7:3", "type": "loop", "size": "67108864", "ro": "0", "mountpoint": "/mnt"}]}`,
		},
	)
	d, err := New(s).Get(context.Background(), "/dev/loop3")
	if err != nil {
		t.Fatal(err)
	}
	if d.Path != "/dev/loop3" || len(d.MountPoints) != 1 || d.MountPoints[0] != "/mnt" {
		t.Errorf("device = %+v", d)
	}
}

func TestChangingCommands(t *testing.T) {
	s := exectest.New(t,
		exectest.Step{Cmd: "wipefs --all /dev/loop3", Stdout: "/dev/loop3: 2 bytes were erased at offset 0x00000438 (ext4): 53 ef\n"},
		exectest.Step{Cmd: "mkdir -p /var/lib/lvmd", Stdout: ""},
		exectest.Step{Cmd: "truncate --size '>1073741824' /var/lib/lvmd/disk0.img"},
		exectest.Step{Cmd: "losetup --find --show /var/lib/lvmd/disk0.img", Stdout: "/dev/loop4\n"},
		exectest.Step{Cmd: "losetup --list --json --output NAME,BACK-FILE,OFFSET,SIZELIMIT,RO --associated /tmp/toposuite-it-scratch/a.img",
			Stdout: string(readTestdata(t, "losetup-associated.json"))},
	)
	c, ctx := New(s), context.Background()
	if err := c.Wipe(ctx, "/dev/loop3"); err != nil {
		t.Fatal(err)
	}
	if err := c.EnsureFile(ctx, "/var/lib/lvmd/disk0.img", gib); err != nil {
		t.Fatal(err)
	}
	dev, err := c.AttachLoop(ctx, "/var/lib/lvmd/disk0.img")
	if err != nil || dev != "/dev/loop4" {
		t.Fatalf("AttachLoop = %q, %v", dev, err)
	}
	loops, err := c.LoopsBackedBy(ctx, "/tmp/toposuite-it-scratch/a.img")
	if err != nil || len(loops) != 1 || loops[0].Path != "/dev/loop2" {
		t.Errorf("LoopsBackedBy = %+v, %v", loops, err)
	}
}

func TestWipeOfABusyDeviceFails(t *testing.T) {
	s := exectest.New(t, exectest.Step{
		Cmd: "wipefs --all /dev/loop3", ExitCode: 1,
		Stderr: "wipefs: error: /dev/loop3: probing initialization failed: Device or resource busy\n",
	})
	if err := New(s).Wipe(context.Background(), "/dev/loop3"); err == nil {
		t.Error("wipe of a busy device succeeded")
	}
}

// pvLister is a PVLister that returns fixed PVs or an error.
type pvLister struct {
	pvs []lvm.PV
	err error
}

func (l pvLister) PVs(context.Context) ([]lvm.PV, error) { return l.pvs, l.err }

// discoverScript replays a real machine: lsblk-all.json lists loop0-loop7,
// zram0 and vda; the wipefs outputs are those of the devices it held.
func discoverScript(t *testing.T) *exectest.Script {
	sig := func(dev, file string) exectest.Step {
		return exectest.Step{Cmd: wipefsCmd + dev, Stdout: string(readTestdata(t, file))}
	}
	return exectest.New(t,
		exectest.Step{Cmd: lsblkCmd + " --all", Stdout: string(readTestdata(t, "lsblk-all.json"))},
		sig("/dev/loop0", "wipefs-lvm2-member.json"),
		sig("/dev/loop1", "wipefs-blank.json"),
		sig("/dev/loop2", "wipefs-lvm2-member.json"),
		sig("/dev/loop3", "wipefs-ext4.json"),
		sig("/dev/loop4", "wipefs-dos.json"),
		sig("/dev/loop5", "wipefs-lvm2-member.json"),
		// loop6 and loop7 have no file, zram0 no size: not probed.
		exectest.Step{Cmd: wipefsCmd + "/dev/vda", ExitCode: 1, Stderr: string(readTestdata(t, "wipefs-eperm.stderr"))},
	)
}

func TestDiscover(t *testing.T) {
	pvs, err := lvm.ParsePVReport(readTestdataLVM(t))
	if err != nil {
		t.Fatal(err)
	}
	inv, err := New(discoverScript(t)).Discover(context.Background(), Criteria{IncludeLoop: true, MinSize: 32 << 20}, pvLister{pvs: pvs})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]ReasonCode{}
	var order []string
	for _, d := range inv.Devices {
		got[d.Path] = codes(d.Reasons)
		order = append(order, d.Path)
		if d.Free != (len(d.Reasons) == 0) {
			t.Errorf("%s: free = %v with reasons %v", d.Path, d.Free, d.Reasons)
		}
	}
	want := map[string][]ReasonCode{
		"/dev/loop0": {ReasonLVMPhysicalVolume}, // a signature LVM does not report
		"/dev/loop1": nil,
		"/dev/loop2": {ReasonLVMPhysicalVolume}, // orphan PV
		"/dev/loop3": {ReasonMounted, ReasonFilesystem},
		"/dev/loop4": {ReasonPartitioned},
		"/dev/loop5": {ReasonLVMPhysicalVolume}, // PV of scratchvg
		"/dev/zram0": {ReasonExcludedType, ReasonEmpty},
		"/dev/vda":   {ReasonMounted, ReasonProbeFailed},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("reasons (-want +got):\n%s\norder %v", d, order)
	}
	msg := func(path string, i int) string {
		for _, d := range inv.Devices {
			if d.Path == path {
				return d.Reasons[i].Message
			}
		}
		return ""
	}
	for path, want := range map[string]string{
		"/dev/loop2": "is an LVM physical volume in no volume group",
		"/dev/loop5": "is an LVM physical volume of volume group scratchvg",
		"/dev/vda":   "is mounted at /",
	} {
		if got := msg(path, 0); got != want {
			t.Errorf("%s: %q, want %q", path, got, want)
		}
	}
	if got := msg("/dev/vda", 1); got != "its signatures could not be read: wipefs: error: /dev/vda: probing initialization failed: Operation not permitted" {
		t.Errorf("vda probe: %q", got)
	}
	if len(inv.Warnings) != 0 {
		t.Errorf("warnings: %v", inv.Warnings)
	}
}

func TestDiscoverWithoutLVM(t *testing.T) {
	inv, err := New(discoverScript(t)).Discover(context.Background(), Criteria{}, pvLister{err: errors.New("lvm is not installed")})
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Warnings) != 1 {
		t.Errorf("warnings = %v", inv.Warnings)
	}
	for _, d := range inv.Devices {
		if d.Free {
			t.Errorf("%s is free, but loop devices are excluded and the others are in use", d.Path)
		}
		if d.Path == "/dev/loop1" && (len(d.Reasons) != 1 || d.Reasons[0].Code != ReasonExcludedType) {
			t.Errorf("blank loop1 without include-loop: %v", d.Reasons)
		}
		if d.Path == "/dev/loop5" && d.Reasons[len(d.Reasons)-1].Code != ReasonLVMPhysicalVolume {
			t.Errorf("loop5 has an LVM signature even without pvs: %v", d.Reasons)
		}
	}
}

func readTestdataLVM(t *testing.T) []byte {
	t.Helper()
	return readTestdata(t, "../../../lvmd/lvm/testdata/pvs.json")
}

func TestInspectDeclared(t *testing.T) {
	s := exectest.New(t,
		exectest.Step{Cmd: lsblkCmd + " /dev/sdz", ExitCode: 32, Stdout: `{"blockdevices": []}`, Stderr: string(readTestdata(t, "lsblk-not-found.stderr"))},
		exectest.Step{Cmd: lsblkCmd + " /dev/loop2", Stdout: string(readTestdata(t, "lsblk-loop.json"))},
		exectest.Step{Cmd: wipefsCmd + "/dev/loop2", Stdout: string(readTestdata(t, "wipefs-blank.json"))},
		// The same device under a symlink: lsblk resolves it.
		exectest.Step{Cmd: lsblkCmd + " /dev/disk/by-id/x", Stdout: string(readTestdata(t, "lsblk-loop.json"))},
		exectest.Step{Cmd: wipefsCmd + "/dev/loop2", Stdout: string(readTestdata(t, "wipefs-blank.json"))},
	)
	c, claimed := New(s), map[string]string{}
	ctx := context.Background()
	if _, refusal, err := c.InspectDeclared(ctx, "/dev/sdz", "pool a", nil, claimed); err != nil || refusal != NotABlockDevice {
		t.Errorf("missing: %q, %v", refusal, err)
	}
	if info, refusal, err := c.InspectDeclared(ctx, "/dev/loop2", "pool a", nil, claimed); err != nil || refusal != "" || info.DevNum != "7:2" {
		t.Errorf("first: %+v %q, %v", info, refusal, err)
	}
	info, refusal, err := c.InspectDeclared(ctx, "/dev/disk/by-id/x", "pool b", nil, claimed)
	if err != nil || refusal != "is the same device as /dev/loop2 (device /dev/loop2 of pool a)" || info.DevNum != "7:2" {
		t.Errorf("again: %+v %q, %v", info, refusal, err)
	}
}
