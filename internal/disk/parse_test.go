package disk

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The files in testdata/ are real outputs of util-linux 2.38.1 (Debian 12)
// on loop devices, captured with the commands and columns this package
// runs: a blank device, an ext4 filesystem (mounted and not), an MBR
// partition table written at offset 510, ext4 and MBR together, swap over
// MBR, an LVM physical volume, a read-only loop device, and a disk the
// sandbox may not open (wipefs: Operation not permitted).

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseLsblkAll(t *testing.T) {
	devs, err := ParseLsblk(readTestdata(t, "lsblk-all.json"))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, d := range devs {
		paths = append(paths, d.Path)
	}
	want := []string{"/dev/loop0", "/dev/loop1", "/dev/loop2", "/dev/loop3", "/dev/loop4", "/dev/loop5", "/dev/loop6", "/dev/loop7", "/dev/zram0", "/dev/vda"}
	if d := cmp.Diff(want, paths); d != "" {
		t.Errorf("paths (-want +got):\n%s", d)
	}
	mounted := devs[3]
	wantMounted := Device{
		Path: "/dev/loop3", KernelName: "/dev/loop3", DevNum: "7:3", Type: "loop", Size: 64 << 20,
		MountPoints: []string{"/tmp/toposuite-it-scratch/mnt"},
	}
	if d := cmp.Diff(wantMounted, mounted); d != "" {
		t.Errorf("loop3 (-want +got):\n%s", d)
	}
	vda := devs[9]
	if vda.Type != "disk" || vda.Size != 274877906944 || len(vda.MountPoints) != 1 || vda.MountPoints[0] != "/" {
		t.Errorf("vda = %+v", vda)
	}
	if devs[8].Size != 0 || devs[8].Kind() != "ram" {
		t.Errorf("zram0 = %+v, kind %q", devs[8], devs[8].Kind())
	}
}

func TestParseLsblkReadOnly(t *testing.T) {
	devs, err := ParseLsblk(readTestdata(t, "lsblk-readonly.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 1 || !devs[0].ReadOnly || devs[0].Size != 32<<20 {
		t.Errorf("devices = %+v", devs)
	}
}

// lsblkTree is in the shape lsblk 2.38 prints for a disk with partitions and
// for a device-mapper device spanning two disks. It is written by hand:
// this machine has neither udev nor device-mapper, and the kernel creates
// no partition devices for loop devices here, so no such tree can be
// captured.
const lsblkTree = `{"blockdevices": [
  {"name": "/dev/sda", "kname": "/dev/sda", "maj:min": "8:0", "type": "disk", "size": 1000204886016, "ro": false, "rm": false,
   "mountpoints": [null], "fstype": null, "pttype": "gpt", "pkname": null, "model": "Samsung SSD 870 ", "serial": "S1", 
   "children": [
     {"name": "/dev/sda1", "kname": "/dev/sda1", "maj:min": "8:1", "type": "part", "size": 536870912, "ro": false, "rm": false,
      "mountpoints": ["/boot/efi"], "fstype": "vfat", "pttype": "gpt", "pkname": "/dev/sda", "model": null, "serial": null},
     {"name": "/dev/sda2", "kname": "/dev/sda2", "maj:min": "8:2", "type": "part", "size": 999666221056, "ro": false, "rm": false,
      "mountpoints": [null], "fstype": "LVM2_member", "pttype": "gpt", "pkname": "/dev/sda",
      "children": [
        {"name": "/dev/mapper/vg-root", "kname": "/dev/dm-0", "maj:min": "252:0", "type": "lvm", "size": 107374182400, "ro": false, "rm": false,
         "mountpoints": ["/", "/var/lib/kubelet/pods/x/volumes/y"], "fstype": "ext4", "pttype": null, "pkname": "/dev/sda2"}
      ]}
   ]},
  {"name": "/dev/sdb", "kname": "/dev/sdb", "maj:min": "8:16", "type": "disk", "size": 1000204886016, "ro": false, "rm": false,
   "mountpoints": [null], "fstype": "LVM2_member", "pttype": null, "pkname": null,
   "children": [
     {"name": "/dev/mapper/vg-root", "kname": "/dev/dm-0", "maj:min": "252:0", "type": "lvm", "size": 107374182400, "ro": false, "rm": false,
      "mountpoints": ["/", "/var/lib/kubelet/pods/x/volumes/y"], "fstype": "ext4", "pttype": null, "pkname": "/dev/sdb"}
   ]}
]}`

func TestParseLsblkTreeIsFlattenedParentsFirst(t *testing.T) {
	devs, err := ParseLsblk([]byte(lsblkTree))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range devs {
		got = append(got, d.Path+"<"+d.Parent)
	}
	want := []string{"/dev/sda<", "/dev/sda1</dev/sda", "/dev/sda2</dev/sda", "/dev/mapper/vg-root</dev/sda2", "/dev/sdb<"}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("devices (-want +got):\n%s", d)
	}
	sda := devs[0]
	wantChildren := []Child{
		{Path: "/dev/sda1", Type: "part", MountPoints: []string{"/boot/efi"}},
		{Path: "/dev/sda2", Type: "part", MountPoints: []string{"/", "/var/lib/kubelet/pods/x/volumes/y"}},
	}
	if d := cmp.Diff(wantChildren, sda.Children); d != "" {
		t.Errorf("sda children (-want +got):\n%s", d)
	}
	if sda.Model != "Samsung SSD 870" || sda.PTType != "gpt" {
		t.Errorf("sda = %+v", sda)
	}
	// The LV is listed under both disks by lsblk; sdb still knows it.
	sdb := devs[4]
	if len(sdb.Children) != 1 || sdb.Children[0].Type != "lvm" || len(sdb.Children[0].MountPoints) != 2 {
		t.Errorf("sdb children = %+v", sdb.Children)
	}
}

// Before util-linux 2.33 every JSON value is a string, and before 2.37
// there is only MOUNTPOINT; lvmd may run such an lsblk on the host.
func TestParseLsblkLegacyForm(t *testing.T) {
	out := `{"blockdevices": [{"name": "/dev/sdc", "kname": "/dev/sdc", "maj:min": "8:32", "type": "disk", "size": "2000398934016",
	  "ro": "0", "rm": "1", "mountpoint": "[SWAP]", "fstype": "swap", "pttype": null, "pkname": null, "model": "X", "serial": null}]}`
	devs, err := ParseLsblk([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	want := []Device{{Path: "/dev/sdc", KernelName: "/dev/sdc", DevNum: "8:32", Type: "disk", Size: 2000398934016, Removable: true,
		MountPoints: []string{"[SWAP]"}, FSType: "swap", Model: "X"}}
	if d := cmp.Diff(want, devs); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestParseLsblkRejectsGarbage(t *testing.T) {
	for _, in := range []string{
		``, `[]`, `{"blockdevices": [{"name": ""}]}`, `{"blockdevices": [{"name": "/dev/x", "size": -1}]}`,
		`{"blockdevices": [{"name": "/dev/x", "size": "big"}]}`, `{"blockdevices": [{"name": "/dev/x", "ro": "maybe"}]}`,
	} {
		if _, err := ParseLsblk([]byte(in)); err == nil {
			t.Errorf("ParseLsblk(%q) did not fail", in)
		}
	}
}

func TestParseWipefs(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []Signature
	}{
		{"wipefs-blank.json", nil},
		{"wipefs-ext4.json", []Signature{{Offset: "0x438", Type: "ext4", Usage: UsageFilesystem, UUID: "923ae5fb-d3b4-4494-a632-130d2ea6faa2"}}},
		{"wipefs-dos.json", []Signature{{Offset: "0x1fe", Type: "dos", Usage: UsagePartitionTable}}},
		{"wipefs-lvm2-member.json", []Signature{{Offset: "0x218", Type: TypeLVM2Member, Usage: UsageRAID, UUID: "TB1xIg-NSJf-aojC-YdiD-saKt-UEAb-U0kYMd"}}},
		{"wipefs-ext4-and-dos.json", []Signature{
			{Offset: "0x438", Type: "ext4", Usage: UsageFilesystem, UUID: "470e4a37-fb0a-497f-80ba-8a77d1564853", Label: "data"},
			{Offset: "0x1fe", Type: "dos", Usage: UsagePartitionTable},
		}},
		{"wipefs-swap.json", []Signature{
			{Offset: "0xff6", Type: "swap", Usage: UsageOther, UUID: "d452bf66-f0a3-4638-ba3d-1c4ca849b81f"},
			{Offset: "0x1fe", Type: "dos", Usage: UsagePartitionTable},
		}},
	} {
		got, err := ParseWipefs(readTestdata(t, tc.file))
		if err != nil {
			t.Errorf("%s: %v", tc.file, err)
			continue
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.file, d)
		}
	}
	if _, err := ParseWipefs([]byte(`{"signatures": [{"offset": "0x0", "type": null}]}`)); err == nil {
		t.Error("a signature without a type was accepted")
	}
}

func TestParseLosetup(t *testing.T) {
	got, err := ParseLosetup(readTestdata(t, "losetup-associated.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Loop{{Path: "/dev/loop2", BackFile: "/tmp/toposuite-it-scratch/a.img"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if !got[0].Whole() {
		t.Error("a loop device over the whole file is not Whole")
	}
	none, err := ParseLosetup(readTestdata(t, "losetup-associated-none.json"))
	if err != nil || len(none) != 0 {
		t.Errorf("no loop devices: %v, %v", none, err)
	}
	partial, err := ParseLosetup([]byte(`{"loopdevices": [{"name": "/dev/loop9", "back-file": "/f", "offset": "4096", "sizelimit": "0", "ro": "1"}]}`))
	if err != nil || len(partial) != 1 || partial[0].Whole() || partial[0].Offset != 4096 || !partial[0].ReadOnly {
		t.Errorf("partial loop = %+v, %v", partial, err)
	}
}
