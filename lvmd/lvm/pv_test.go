package lvm

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/toposuite/toposuite/internal/exec/exectest"
	"github.com/toposuite/toposuite/internal/storage"
)

// pvs.json, pvs-empty.json and the .stderr files next to them are real
// output of lvm2 2.03.16 in metadata-only mode on loop devices.

func pvTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const pvsCmd = "lvm pvs -o pv_name,vg_name,pv_uuid,pv_size,pv_major,pv_minor --reportformat json --units b --nosuffix"

func TestParsePVReport(t *testing.T) {
	got, err := ParsePVReport(pvTestdata(t, "pvs.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []PV{
		{Name: "/dev/loop2", UUID: "2eRDzl-sTRm-nTUE-EQyE-jEFc-OJgX-hdvfcG", Size: 67108864, Major: 7, Minor: 2},
		{Name: "/dev/loop5", VG: "scratchvg", UUID: "TB1xIg-NSJf-aojC-YdiD-saKt-UEAb-U0kYMd", Size: 62914560, Major: 7, Minor: 5},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if got[1].DevNum() != "7:5" {
		t.Errorf("DevNum = %q", got[1].DevNum())
	}
	empty, err := ParsePVReport(pvTestdata(t, "pvs-empty.json"))
	if err != nil || len(empty) != 0 {
		t.Errorf("empty report: %v, %v", empty, err)
	}
	// A PV whose device is missing has no device number.
	missing, err := ParsePVReport([]byte(`{"report":[{"pv":[{"pv_name":"[unknown]","vg_name":"vg","pv_uuid":"u","pv_size":"1048576","pv_major":"-1","pv_minor":"-1"}]}]}`))
	if err != nil || len(missing) != 1 || missing[0].Major != -1 {
		t.Errorf("missing PV: %+v, %v", missing, err)
	}
	for _, bad := range []string{``, `{"report":[{"pv":[{"pv_name":""}]}]}`, `{"report":[{"pv":[{"pv_name":"/dev/x","pv_size":"x"}]}]}`,
		`{"report":[{"pv":[{"pv_name":"/dev/x","pv_size":"1","pv_major":"a","pv_minor":"0"}]}]}`} {
		if _, err := ParsePVReport([]byte(bad)); err == nil {
			t.Errorf("ParsePVReport(%q) did not fail", bad)
		}
	}
}

func TestPVCommands(t *testing.T) {
	s := exectest.New(t,
		exectest.Step{Cmd: pvsCmd, Stdout: string(pvTestdata(t, "pvs.json"))},
		exectest.Step{Cmd: "lvm pvcreate /dev/loop2 /dev/loop3", Stdout: "  Physical volume \"/dev/loop2\" successfully created.\n"},
		exectest.Step{Cmd: "lvm vgcreate vg1 /dev/loop2 /dev/loop3"},
		exectest.Step{Cmd: "lvm vgextend vg1 /dev/loop4", Stdout: "  Volume group \"vg1\" successfully extended\n"},
	)
	c, ctx := New(s, "lvm"), context.Background()
	pvs, err := c.PVs(ctx)
	if err != nil || len(pvs) != 2 {
		t.Fatalf("PVs = %v, %v", pvs, err)
	}
	if err := c.PVCreate(ctx, "/dev/loop2", "/dev/loop3"); err != nil {
		t.Fatal(err)
	}
	if err := c.VGCreate(ctx, "vg1", "/dev/loop2", "/dev/loop3"); err != nil {
		t.Fatal(err)
	}
	if err := c.VGExtend(ctx, "vg1", "/dev/loop4"); err != nil {
		t.Fatal(err)
	}
	// Nothing to do runs nothing; a VG without devices is a mistake.
	if err := c.PVCreate(ctx); err != nil {
		t.Error(err)
	}
	if err := c.VGExtend(ctx, "vg1"); err != nil {
		t.Error(err)
	}
	if err := c.VGCreate(ctx, "vg1"); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("VGCreate without devices: %v", err)
	}
}

// pvcreate is never run with -y: on a device with a signature it asks,
// reads no answer and refuses, which is what the captured stderr shows.
func TestPVCreateRefusesASignature(t *testing.T) {
	s := exectest.New(t, exectest.Step{Cmd: "lvm pvcreate /dev/loop3", ExitCode: 5, Stderr: string(pvTestdata(t, "pvcreate-ext4.stderr"))})
	err := New(s, "lvm").PVCreate(context.Background(), "/dev/loop3")
	if err == nil {
		t.Fatal("pvcreate over ext4 succeeded")
	}
}

func TestVGCreateOnAnotherVGsPV(t *testing.T) {
	s := exectest.New(t, exectest.Step{Cmd: "lvm vgcreate othervg /dev/loop5", ExitCode: 5, Stderr: string(pvTestdata(t, "vgcreate-pv-in-other-vg.stderr"))})
	err := New(s, "lvm").VGCreate(context.Background(), "othervg", "/dev/loop5")
	if err == nil {
		t.Fatal("vgcreate on another VG's PV succeeded")
	}
}

func TestVGExists(t *testing.T) {
	s := exectest.New(t,
		exectest.Step{Cmd: "lvm vgs -o vg_name,vg_uuid,vg_size,vg_free,vg_extent_size --reportformat json --units b --nosuffix tvg",
			Stdout: string(pvTestdata(t, "vgs-missing-vg.json"))},
		exectest.Step{Cmd: "lvm vgs -o vg_name,vg_uuid,vg_size,vg_free,vg_extent_size --reportformat json --units b --nosuffix novg",
			ExitCode: 5, Stderr: string(pvTestdata(t, "vgs-missing-vg.stderr")), Stdout: "  {\n      \"report\": [\n          {\n              \"vg\": [\n              ]\n          }\n      ]\n  }\n"},
	)
	c := New(s, "lvm")
	if ok, err := c.VGExists(context.Background(), "tvg"); !ok || err != nil {
		t.Errorf("tvg: %v, %v", ok, err)
	}
	if ok, err := c.VGExists(context.Background(), "novg"); ok || err != nil {
		t.Errorf("novg: %v, %v", ok, err)
	}
}

func FuzzParsePVReport(f *testing.F) {
	f.Add(pvTestdata(f, "pvs.json"))
	f.Add(pvTestdata(f, "pvs-empty.json"))
	f.Fuzz(func(t *testing.T, in []byte) {
		pvs, err := ParsePVReport(in)
		if err != nil {
			return
		}
		for _, p := range pvs {
			if p.Name == "" || p.Size < 0 || p.Major < -1 || p.Minor < -1 {
				t.Fatalf("bad PV %+v from %q", p, in)
			}
		}
	})
}
