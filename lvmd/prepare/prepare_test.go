package prepare

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/toposuite/toposuite/internal/exec/exectest"
	"github.com/toposuite/toposuite/internal/storage"
	"github.com/toposuite/toposuite/lvmd/config"
)

var (
	loop2 = loopDev{n: 2, size: 64 * mib}
	loop3 = loopDev{n: 3, size: 64 * mib}
	loop4 = loopDev{n: 4, size: 64 * mib}
)

func run(t *testing.T, s *exectest.Script, o Options, vgs ...config.VolumeGroup) (*Report, error) {
	t.Helper()
	rep, err := newPreparer(t, s).Prepare(context.Background(), vgs, o)
	if rep == nil {
		t.Fatal("no report")
	}
	return rep, err
}

func TestCreatesAMissingVolumeGroup(t *testing.T) {
	s := exectest.New(t, steps(
		one(vgExists("vg1", false)),
		one(exectest.Step{Cmd: pvsCmd, Stdout: pvs()}),
		inspect(t, loop2, "blank"),
		inspect(t, loop3, "blank"),
		one(exectest.Step{Cmd: "lvm pvcreate /dev/loop2 /dev/loop3"}),
		one(exectest.Step{Cmd: "lvm vgcreate vg1 /dev/loop2 /dev/loop3"}),
	)...)
	rep, err := run(t, s, Options{}, volumeGroup("vg1", "/dev/loop2", "/dev/loop3"))
	if err != nil || rep.Err() != nil {
		t.Fatalf("%v, %v", err, rep.Err())
	}
	want := []VGReport{{
		Name: "vg1", Result: ResultCreated, Message: "created from 2 devices",
		Devices: []DeviceReport{
			{Device: "/dev/loop2", Action: ActionAdd, Reason: "blank"},
			{Device: "/dev/loop3", Action: ActionAdd, Reason: "blank"},
		},
	}}
	if d := cmp.Diff(want, rep.VolumeGroups); d != "" {
		t.Errorf("report (-want +got):\n%s", d)
	}
}

func TestSecondRunChangesNothing(t *testing.T) {
	s := exectest.New(t, steps(
		one(vgExists("vg1", true)),
		one(exectest.Step{Cmd: pvsCmd, Stdout: pvs(pvRow{2, "vg1"}, pvRow{3, "vg1"})}),
		inspect(t, loop2, "lvm2-member"),
		inspect(t, loop3, "lvm2-member"),
	)...)
	rep, err := run(t, s, Options{}, volumeGroup("vg1", "/dev/loop2", "/dev/loop3"))
	if err != nil || rep.Err() != nil {
		t.Fatalf("%v, %v", err, rep.Err())
	}
	vg := rep.VolumeGroups[0]
	if vg.Result != ResultUnchanged || vg.Message != "every declared device is a physical volume of the volume group already (2 devices)" {
		t.Errorf("result = %s %q", vg.Result, vg.Message)
	}
	if d := cmp.Diff(map[string]Action{"/dev/loop2": ActionKeep, "/dev/loop3": ActionKeep}, actions(vg)); d != "" {
		t.Errorf("actions (-want +got):\n%s", d)
	}
}

func TestExtendsWithANewDevice(t *testing.T) {
	s := exectest.New(t, steps(
		one(vgExists("vg1", true)),
		one(exectest.Step{Cmd: pvsCmd, Stdout: pvs(pvRow{2, "vg1"})}),
		inspect(t, loop2, "lvm2-member"),
		inspect(t, loop3, "blank"),
		one(exectest.Step{Cmd: "lvm pvcreate /dev/loop3"}),
		one(exectest.Step{Cmd: "lvm vgextend vg1 /dev/loop3"}),
	)...)
	rep, err := run(t, s, Options{}, volumeGroup("vg1", "/dev/loop2", "/dev/loop3"))
	if err != nil || rep.Err() != nil {
		t.Fatalf("%v, %v", err, rep.Err())
	}
	if vg := rep.VolumeGroups[0]; vg.Result != ResultExtended || vg.Message != "added 1 device" {
		t.Errorf("result = %s %q", vg.Result, vg.Message)
	}
}

// An orphan PV (a PV in no VG) joins as it is: no pvcreate.
func TestUsesAnOrphanPhysicalVolume(t *testing.T) {
	s := exectest.New(t, steps(
		one(vgExists("vg1", false)),
		one(exectest.Step{Cmd: pvsCmd, Stdout: readFile(t, "../lvm/testdata/pvs.json")}), // loop2 is an orphan there
		inspect(t, loop2, "lvm2-member"),
		one(exectest.Step{Cmd: "lvm vgcreate vg1 /dev/loop2"}),
	)...)
	rep, err := run(t, s, Options{}, volumeGroup("vg1", "/dev/loop2"))
	if err != nil || rep.Err() != nil {
		t.Fatalf("%v, %v", err, rep.Err())
	}
	if d := rep.VolumeGroups[0].Devices[0]; d.Action != ActionAdd || !strings.Contains(d.Reason, "in no volume group") {
		t.Errorf("device = %+v", d)
	}
}

func TestRefusesAFilesystemUnlessListedUnderWipe(t *testing.T) {
	refuse := exectest.New(t, steps(
		one(vgExists("vg1", false)),
		one(exectest.Step{Cmd: pvsCmd, Stdout: pvs()}),
		inspect(t, loop2, "blank"),
		inspect(t, loop3, "ext4"),
	)...)
	rep, err := run(t, refuse, Options{}, volumeGroup("vg1", "/dev/loop2", "/dev/loop3"))
	if err != nil {
		t.Fatal(err)
	}
	vg := rep.VolumeGroups[0]
	if vg.Result != ResultRefused || vg.Message != "nothing changed: 1 of 2 declared devices refused" {
		t.Errorf("result = %s %q", vg.Result, vg.Message)
	}
	refusal := vg.Devices[1]
	if refusal.Action != ActionRefuse || refusal.Reason != "has a filesystem (ext4); list it under wipe to erase its signatures" {
		t.Errorf("refusal = %+v", refusal)
	}
	err = rep.Err()
	if !errors.Is(err, storage.ErrPrecondition) ||
		!strings.Contains(err.Error(), "1 device was refused") ||
		!strings.Contains(err.Error(), "vg1: /dev/loop3: has a filesystem (ext4)") {
		t.Errorf("Err() = %v", err)
	}

	wipe := exectest.New(t, steps(
		one(vgExists("vg1", false)),
		one(exectest.Step{Cmd: pvsCmd, Stdout: pvs()}),
		inspect(t, loop2, "blank"),
		inspect(t, loop3, "ext4-and-dos"),
		one(exectest.Step{Cmd: "wipefs --all /dev/loop3", Stdout: "/dev/loop3: 2 bytes were erased at offset 0x00000438 (ext4): 53 ef\n"}),
		one(exectest.Step{Cmd: "lvm pvcreate /dev/loop2 /dev/loop3"}),
		one(exectest.Step{Cmd: "lvm vgcreate vg1 /dev/loop2 /dev/loop3"}),
	)...)
	vgw := volumeGroup("vg1", "/dev/loop2", "/dev/loop3")
	vgw.Wipe = []string{"/dev/loop3"}
	rep, err = run(t, wipe, Options{}, vgw)
	if err != nil || rep.Err() != nil {
		t.Fatalf("%v, %v", err, rep.Err())
	}
	d := rep.VolumeGroups[0].Devices[1]
	if d.Action != ActionWipeAndAdd || cmp.Diff([]string{"ext4", "dos"}, d.Wiped) != "" ||
		d.Reason != `listed under wipe: has a filesystem (ext4, labelled "data"); has a partition table (dos)` {
		t.Errorf("wiped device = %+v", d)
	}
}

// Wiping never applies to a mounted device, another VG's PV, or a device
// too small: these are refused even when listed under wipe.
func TestRefusalsThatWipeDoesNotLift(t *testing.T) {
	mounted := loopDev{n: 3, size: 64 * mib, mounts: []string{"/mnt/data"}}
	small := loopDev{n: 3, size: 16 * mib}
	readOnly := loopDev{n: 3, size: 64 * mib, ro: true}
	for _, tc := range []struct {
		name   string
		dev    loopDev
		kind   string
		pvs    string
		reason string
	}{
		{"mounted", mounted, "ext4", pvs(), "is mounted at /mnt/data"},
		{"PV of another VG", loop3, "lvm2-member", pvs(pvRow{3, "othervg"}), "is an LVM physical volume of volume group othervg"},
		{"PV hidden from LVM", loop3, "lvm2-member", pvs(), "has an LVM physical volume signature, but LVM does not report it"},
		{"too small", small, "blank", pvs(), "is 16Mi (16777216 bytes), smaller than the minimum of 32Mi (33554432 bytes)"},
		{"read-only", readOnly, "blank", pvs(), "is read-only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, listed := range []bool{false, true} {
				s := exectest.New(t, steps(
					one(vgExists("vg1", false)),
					one(exectest.Step{Cmd: pvsCmd, Stdout: tc.pvs}),
					inspect(t, tc.dev, tc.kind),
				)...)
				vg := volumeGroup("vg1", "/dev/loop3")
				if listed {
					vg.Wipe = []string{"/dev/loop3"}
				}
				rep, err := run(t, s, Options{}, vg)
				if err != nil {
					t.Fatal(err)
				}
				d := rep.VolumeGroups[0].Devices[0]
				if d.Action != ActionRefuse || !strings.HasPrefix(d.Reason, tc.reason) {
					t.Errorf("wipe=%v: device = %+v", listed, d)
				}
				if listed && !strings.Contains(d.Reason, "listed under wipe, but wiping only erases signatures") {
					t.Errorf("wipe=%v: reason does not say why wipe does not help: %q", listed, d.Reason)
				}
				if rep.VolumeGroups[0].Result != ResultRefused || rep.Err() == nil {
					t.Errorf("wipe=%v: result %s, Err %v", listed, rep.VolumeGroups[0].Result, rep.Err())
				}
			}
		})
	}
}

func TestUndeclaredMemberIsLeftInPlace(t *testing.T) {
	s := exectest.New(t, steps(
		one(vgExists("vg1", true)),
		one(exectest.Step{Cmd: pvsCmd, Stdout: pvs(pvRow{2, "vg1"}, pvRow{3, "vg1"})}),
		inspect(t, loop2, "lvm2-member"),
	)...)
	rep, err := run(t, s, Options{}, volumeGroup("vg1", "/dev/loop2"))
	if err != nil || rep.Err() != nil {
		t.Fatalf("%v, %v", err, rep.Err())
	}
	vg := rep.VolumeGroups[0]
	if vg.Result != ResultUnchanged || !strings.HasSuffix(vg.Message, "; 1 device no longer declared left in place") {
		t.Errorf("result = %s %q", vg.Result, vg.Message)
	}
	left := vg.Devices[1]
	if left.Device != "/dev/loop3" || left.Action != ActionLeaveInPlace || !strings.HasPrefix(left.Reason, "in the volume group but no longer declared; left in place") {
		t.Errorf("undeclared = %+v", left)
	}
	for _, c := range s.Calls() {
		if strings.Contains(c, "vgreduce") || strings.Contains(c, "pvremove") || strings.Contains(c, "wipefs --all") {
			t.Errorf("destructive command: %s", c)
		}
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	s := exectest.New(t, steps(
		one(exectest.Step{Cmd: losetupJ + "/var/lib/lvmd/disk0.img", Stdout: readFile(t, "../../internal/disk/testdata/losetup-associated-none.json")}),
		one(vgExists("vg1", false)),
		one(exectest.Step{Cmd: pvsCmd, Stdout: pvs()}),
		inspect(t, loop2, "ext4"),
	)...)
	vg := volumeGroup("vg1", "/dev/loop2")
	vg.Wipe = []string{"/dev/loop2"}
	vg.LoopFiles = []config.LoopFile{{Path: "/var/lib/lvmd/disk0.img", Size: quantity("1Gi")}}
	rep, err := run(t, s, Options{DryRun: true}, vg)
	if err != nil || rep.Err() != nil {
		t.Fatalf("%v, %v", err, rep.Err())
	}
	want := &Report{DryRun: true, VolumeGroups: []VGReport{{
		Name: "vg1", Result: ResultWouldCreate, Message: "would create it from 2 devices",
		Devices: []DeviceReport{
			{Device: "/dev/loop2", Action: ActionWipeAndAdd, Reason: "listed under wipe: has a filesystem (ext4)", Wiped: []string{"ext4"},
				Problems: rep.VolumeGroups[0].Devices[0].Problems},
			{LoopFile: "/var/lib/lvmd/disk0.img", Loop: LoopNotAttached, Action: ActionAttach,
				Reason: "dry run: the loop file is not attached; its device is checked once it is"},
		},
	}}}
	if d := cmp.Diff(want, rep); d != "" {
		t.Errorf("report (-want +got):\n%s", d)
	}
}

func TestLoopFiles(t *testing.T) {
	const file = "/var/lib/lvmd/disk0.img"
	loop6 := loopDev{n: 6, size: 64 * mib}
	attach := exectest.New(t, steps(
		one(exectest.Step{Cmd: losetupJ + file, Stdout: readFile(t, "../../internal/disk/testdata/losetup-associated-none.json")}),
		one(exectest.Step{Cmd: "mkdir -p /var/lib/lvmd"}),
		one(exectest.Step{Cmd: "truncate --size '>67108864' " + file}),
		one(exectest.Step{Cmd: "losetup --find --show " + file, Stdout: "/dev/loop6\n"}),
		one(vgExists("vg1", false)),
		one(exectest.Step{Cmd: pvsCmd, Stdout: pvs()}),
		inspect(t, loop6, "blank"),
		one(exectest.Step{Cmd: "lvm pvcreate /dev/loop6"}),
		one(exectest.Step{Cmd: "lvm vgcreate vg1 /dev/loop6"}),
	)...)
	vg := config.VolumeGroup{Name: "vg1", LoopFiles: []config.LoopFile{{Path: file, Size: quantity("64Mi")}}, MinDeviceSize: quantity("32Mi")}
	rep, err := run(t, attach, Options{}, vg)
	if err != nil || rep.Err() != nil {
		t.Fatalf("%v, %v", err, rep.Err())
	}
	want := []DeviceReport{{Device: "/dev/loop6", LoopFile: file, Loop: LoopAttached, Action: ActionAdd, Reason: "blank"}}
	if d := cmp.Diff(want, rep.VolumeGroups[0].Devices); d != "" {
		t.Errorf("devices (-want +got):\n%s", d)
	}

	// The second run finds the loop device attached (a partial mapping of
	// the same file is not reused) and creates neither file nor device.
	reuse := exectest.New(t, steps(
		one(exectest.Step{Cmd: losetupJ + file, Stdout: `{"loopdevices": [
			{"name": "/dev/loop5", "back-file": "/var/lib/lvmd/disk0.img", "offset": 1048576, "sizelimit": 0, "ro": false},
			{"name": "/dev/loop6", "back-file": "/var/lib/lvmd/disk0.img", "offset": 0, "sizelimit": 0, "ro": false}]}`}),
		one(vgExists("vg1", true)),
		one(exectest.Step{Cmd: pvsCmd, Stdout: pvs(pvRow{6, "vg1"})}),
		inspect(t, loop6, "lvm2-member"),
	)...)
	rep, err = run(t, reuse, Options{}, vg)
	if err != nil || rep.Err() != nil {
		t.Fatalf("%v, %v", err, rep.Err())
	}
	want = []DeviceReport{{Device: "/dev/loop6", LoopFile: file, Loop: LoopAlreadyAttached, Action: ActionKeep, Reason: "already a physical volume of vg1"}}
	if d := cmp.Diff(want, rep.VolumeGroups[0].Devices); d != "" {
		t.Errorf("devices (-want +got):\n%s", d)
	}
	if rep.VolumeGroups[0].Result != ResultUnchanged {
		t.Errorf("result = %s", rep.VolumeGroups[0].Result)
	}
}

func TestMissingAndDuplicateDevices(t *testing.T) {
	s := exectest.New(t, steps(
		one(vgExists("vg1", false)),
		one(exectest.Step{Cmd: pvsCmd, Stdout: pvs()}),
		one(exectest.Step{Cmd: lsblkCmd + "/dev/sdz", ExitCode: 32, Stdout: `{"blockdevices": []}`, Stderr: "lsblk: /dev/sdz: not a block device\n"}),
		inspect(t, loop2, "blank"),
		// The same device under a symlink: lsblk resolves it to loop2.
		one(exectest.Step{Cmd: lsblkCmd + "/dev/disk/by-id/x", Stdout: loop2.lsblk()}),
		one(exectest.Step{Cmd: wipefsCmd + "/dev/loop2", Stdout: sig(t, "blank")}),
	)...)
	rep, err := run(t, s, Options{}, volumeGroup("vg1", "/dev/sdz", "/dev/loop2", "/dev/disk/by-id/x"))
	if err != nil {
		t.Fatal(err)
	}
	devs := rep.VolumeGroups[0].Devices
	if devs[0].Action != ActionRefuse || devs[0].Reason != "does not exist or is not a block device" {
		t.Errorf("missing device: %+v", devs[0])
	}
	if devs[2].Action != ActionRefuse || devs[2].Reason != "is the same device as /dev/loop2 (device /dev/loop2 of volume group vg1)" {
		t.Errorf("duplicate: %+v", devs[2])
	}
	if !strings.Contains(rep.Err().Error(), "2 devices were refused") {
		t.Errorf("Err() = %v", rep.Err())
	}
}

// One VG's refusal does not hold back another VG.
func TestVolumeGroupsAreIndependent(t *testing.T) {
	s := exectest.New(t, steps(
		one(vgExists("vg1", false)),
		one(exectest.Step{Cmd: pvsCmd, Stdout: pvs()}),
		inspect(t, loop2, "dos"),
		one(vgExists("vg2", false)),
		one(exectest.Step{Cmd: pvsCmd, Stdout: pvs()}),
		inspect(t, loop4, "blank"),
		one(exectest.Step{Cmd: "lvm pvcreate /dev/loop4"}),
		one(exectest.Step{Cmd: "lvm vgcreate vg2 /dev/loop4"}),
	)...)
	rep, err := run(t, s, Options{}, volumeGroup("vg1", "/dev/loop2"), volumeGroup("vg2", "/dev/loop4"))
	if err != nil {
		t.Fatal(err)
	}
	if rep.VolumeGroups[0].Result != ResultRefused || rep.VolumeGroups[1].Result != ResultCreated {
		t.Errorf("results = %s, %s", rep.VolumeGroups[0].Result, rep.VolumeGroups[1].Result)
	}
	if got := rep.VolumeGroups[0].Devices[0].Reason; got != "has a partition table (dos); list it under wipe to erase its signatures" {
		t.Errorf("reason = %q", got)
	}
}

func TestFailedCommandIsReported(t *testing.T) {
	s := exectest.New(t, steps(
		one(vgExists("vg1", false)),
		one(exectest.Step{Cmd: pvsCmd, Stdout: pvs()}),
		inspect(t, loop2, "blank"),
		one(exectest.Step{Cmd: "lvm pvcreate /dev/loop2", ExitCode: 5, Stderr: readFile(t, "../lvm/testdata/pvcreate-ext4.stderr")}),
	)...)
	rep, err := run(t, s, Options{}, volumeGroup("vg1", "/dev/loop2"))
	if err == nil || !strings.Contains(err.Error(), "volume group vg1: pvcreate:") {
		t.Fatalf("err = %v", err)
	}
	vg := rep.VolumeGroups[0]
	if vg.Result != ResultFailed || !strings.Contains(vg.Error, "Wipe it? [y/n]: [n]") || len(vg.Devices) != 1 {
		t.Errorf("report = %+v", vg)
	}
}
