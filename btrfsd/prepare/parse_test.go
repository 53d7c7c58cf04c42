package prepare

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/toposuite/toposuite/internal/exec/exectest"
)

func TestParseFilesystemShow(t *testing.T) {
	dev := func(id uint64, used int64, path string) FilesystemDevice {
		return FilesystemDevice{ID: id, Size: 268435456, Used: used, Path: path}
	}
	fast := Filesystem{UUID: uuidFast, Label: "topols-fast", TotalDevices: 1, BytesUsed: 163840, Devices: []FilesystemDevice{dev(1, 92274688, "/dev/loop2")}}
	mirror := Filesystem{UUID: uuidMirror, Label: "topols-mirror", TotalDevices: 2, BytesUsed: 147456,
		Devices: []FilesystemDevice{dev(1, 109051904, "/dev/loop3"), dev(2, 109051904, "/dev/loop4")}}
	noLabel := Filesystem{UUID: uuidNoLbl, TotalDevices: 1, BytesUsed: 147456, Devices: []FilesystemDevice{dev(1, 92274688, "/dev/loop5")}}
	missing := Filesystem{UUID: uuidMirror, Label: "topols-mirror", TotalDevices: 2, BytesUsed: 147456,
		Devices: []FilesystemDevice{dev(1, 109051904, "/dev/loop3")}, Missing: true}
	for _, tc := range []struct {
		file string
		want []Filesystem
	}{
		{"btrfs-show-path.out", []Filesystem{fast}},
		{"btrfs-show-mounted.out", []Filesystem{fast}},
		{"btrfs-show-raid1.out", []Filesystem{mirror}},
		{"btrfs-show-all.out", []Filesystem{fast, noLabel, mirror}},
		// "warning, device 2 is missing" comes on stdout, before the block.
		{"btrfs-show-missing.out", []Filesystem{missing}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got, err := ParseFilesystemShow([]byte(testdata(t, tc.file)))
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
			for _, fs := range got {
				if fs.Complete() == fs.Missing {
					t.Errorf("%s: Complete() = %v with Missing %v", fs.UUID, fs.Complete(), fs.Missing)
				}
			}
		})
	}
	if got, err := ParseFilesystemShow(nil); err != nil || got != nil {
		t.Errorf("empty output: %v, %v", got, err)
	}
}

func TestParseFilesystemShowLabels(t *testing.T) {
	const tail = "  uuid: " + uuidFast + "\n\tTotal devices 1 FS bytes used 1\n\tdevid    1 size 2 used 3 path /dev/my disk\n"
	for label, want := range map[string]string{
		"'none'":              "none",
		"none":                "",
		"'it''s'":             "it''s",
		"'a  uuid: b'":        "a  uuid: b",
		"'  spaced  '":        "  spaced  ",
		"'topols-fast'":       "topols-fast",
		"'ünïcödé'":           "ünïcödé",
		"'with\ttab'":         "with\ttab",
		"'ends with quote ''": "ends with quote '",
	} {
		got, err := ParseFilesystemShow([]byte("Label: " + label + tail))
		if err != nil {
			t.Errorf("%s: %v", label, err)
			continue
		}
		if got[0].Label != want || got[0].Devices[0].Path != "/dev/my disk" {
			t.Errorf("%s: %+v", label, got[0])
		}
	}
}

func TestParseFilesystemShowErrors(t *testing.T) {
	for name, in := range map[string]string{
		"no uuid":          "Label: 'x'\n",
		"bad uuid":         "Label: 'x'  uuid: nope\n\tTotal devices 1 FS bytes used 1\n",
		"unquoted label":   "Label: x  uuid: " + uuidFast + "\n\tTotal devices 1 FS bytes used 1\n",
		"devid first":      "\tdevid    1 size 2 used 3 path /dev/sda\n",
		"no total":         "Label: none  uuid: " + uuidFast + "\n\tdevid    1 size 2 used 3 path /dev/sda\n",
		"no device count":  "Label: none  uuid: " + uuidFast + "\n",
		"human units":      "Label: none  uuid: " + uuidFast + "\n\tTotal devices 1 FS bytes used 144.00KiB\n",
		"too many devices": "Label: none  uuid: " + uuidFast + "\n\tTotal devices 1 FS bytes used 1\n\tdevid 1 size 2 used 3 path /a\n\tdevid 2 size 2 used 3 path /b\n",
		"negative size":    "Label: none  uuid: " + uuidFast + "\n\tTotal devices 1 FS bytes used 1\n\tdevid 1 size -2 used 3 path /a\n",
		"zero devices":     "Label: none  uuid: " + uuidFast + "\n\tTotal devices 0 FS bytes used 1\n",
	} {
		if got, err := ParseFilesystemShow([]byte(in)); err == nil {
			t.Errorf("%s: parsed as %+v", name, got)
		}
	}
}

func TestParseFindmnt(t *testing.T) {
	for _, tc := range []struct {
		file string
		want Mount
	}{
		{"findmnt-btrfs.json", Mount{Target: pathFast, Source: "/dev/loop2", FSType: "btrfs", Options: "rw,relatime,discard=async,space_cache=v2,subvolid=5,subvol=/"}},
		// --nofsroot: no [/sub] after the device of a subvolume mount.
		{"findmnt-btrfs-subvol.json", Mount{Target: "/tmp/toposuite-it-capWUuq/m3", Source: "/dev/loop2", FSType: "btrfs",
			Options: "rw,relatime,discard=async,space_cache=v2,subvolid=256,subvol=/sub"}},
		{"findmnt-ext4.json", Mount{Target: pathMirror, Source: "/dev/loop4", FSType: "ext4", Options: "rw,relatime"}},
		// btrfs bind-mounted over ext4 on one path: the top one is visible.
		{"findmnt-stacked.json", Mount{Target: pathMirror, Source: "/dev/loop2", FSType: "btrfs", Options: "rw,relatime,discard=async,space_cache=v2,subvolid=5,subvol=/"}},
	} {
		got, err := ParseFindmnt([]byte(testdata(t, tc.file)))
		if err != nil {
			t.Errorf("%s: %v", tc.file, err)
			continue
		}
		if d := cmp.Diff(tc.want, *got); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.file, d)
		}
	}
	for _, in := range []string{``, `{}`, `{"filesystems": []}`, `{"filesystems": [{"source": "/dev/sda"}]}`, `{"filesystems": [{"target": 1}]}`} {
		if got, err := ParseFindmnt([]byte(in)); err == nil {
			t.Errorf("%q parsed as %+v", in, got)
		}
	}
}

// btrfs exits 1 both when there is nothing to list and on errors; only
// the former is silent.
func TestShowFilesystemsExitCodes(t *testing.T) {
	s := exectest.New(t,
		exectest.Step{Cmd: showCmd + " --mounted", ExitCode: 1},
		exectest.Step{Cmd: showCmd + " /dev/loop3", ExitCode: 1, Stderr: testdata(t, "btrfs-show-blank.stderr")},
	)
	c := commands{run: s}
	if fss, err := c.showFilesystems(t.Context(), "--mounted"); err != nil || fss != nil {
		t.Errorf("nothing mounted: %v, %v", fss, err)
	}
	if _, err := c.showFilesystems(t.Context(), "/dev/loop3"); err == nil || !strings.Contains(err.Error(), "ERROR: no btrfs on /dev/loop3") {
		t.Errorf("error = %v", err)
	}
}
