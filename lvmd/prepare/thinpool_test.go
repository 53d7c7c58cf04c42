package prepare

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/toposuite/toposuite/internal/exec/exectest"
	"github.com/toposuite/toposuite/lvmd/config"
	"github.com/toposuite/toposuite/lvmd/lvm"
)

// The VG of these tests: vgExists(name, true) reports 120 MiB in 4 MiB
// extents, so 50% is 60 MiB (15 extents).
const (
	lvsCmd  = "lvm lvs -o lv_name,vg_name,lv_uuid,lv_size,lv_attr,lv_path,lv_tags,pool_lv,origin,origin_size,data_percent,metadata_percent,segtype --reportformat json --units b --nosuffix "
	half    = 60 * mib
	poolLVs = "vg1/pool0"
)

// lvMissing is what lvs printed for a missing LV here (rc 5).
func lvMissing(name string) exectest.Step {
	return exectest.Step{
		Cmd: lvsCmd + name, ExitCode: 5,
		Stdout: "  {\n      \"report\": [\n          {\n              \"lv\": [\n              ]\n          }\n      ]\n  }\n",
		Stderr: fmt.Sprintf("  WARNING: Activation disabled. No device-mapper interaction will be attempted.\n  Failed to find logical volume %q\n", name),
	}
}

// lvRow answers lvs for an existing LV. The thin pool's attributes and
// segment type are as LVM 2.03 reports a thin pool (the host cannot make
// one: no device-mapper; the VM test makes real ones).
func lvRow(name, attr, segtype string, size int64) exectest.Step {
	return exectest.Step{Cmd: lvsCmd + "vg1/" + name, Stdout: fmt.Sprintf(`  {"report": [{"lv": [{"lv_name":%q, "vg_name":"vg1", "lv_uuid":"u", "lv_size":"%d", "lv_attr":%q, "lv_path":"", "lv_tags":"", "pool_lv":"", "origin":"", "origin_size":"", "data_percent":"0.00", "metadata_percent":"10.00", "segtype":%q}]}]}`,
		name, size, attr, segtype)}
}

func withPool(vg config.VolumeGroup, size string) config.VolumeGroup {
	vg.ThinPool = &config.PreparedThinPool{Name: "pool0", Size: size}
	return vg
}

func TestCreatesTheThinPoolAfterTheVolumeGroup(t *testing.T) {
	s := exectest.New(t, steps(
		one(vgExists("vg1", false)),
		one(exectest.Step{Cmd: pvsCmd, Stdout: pvs()}),
		inspect(t, loop2, "blank"),
		one(exectest.Step{Cmd: "lvm pvcreate /dev/loop2"}),
		one(exectest.Step{Cmd: "lvm vgcreate vg1 /dev/loop2"}),
		one(vgExists("vg1", true)),
		one(lvMissing(poolLVs)),
		one(exectest.Step{Cmd: fmt.Sprintf("lvm lvcreate -y -n pool0 -L %db --type thin-pool vg1", half)}),
	)...)
	rep, err := run(t, s, Options{}, withPool(volumeGroup("vg1", "/dev/loop2"), "50%"))
	if err != nil || rep.Err() != nil {
		t.Fatalf("%v, %v", err, rep.Err())
	}
	want := &ThinPoolReport{Name: "pool0", Result: PoolCreated, SizeBytes: half, Message: "created"}
	if d := cmp.Diff(want, rep.VolumeGroups[0].ThinPool); d != "" {
		t.Errorf("pool report (-want +got):\n%s", d)
	}
}

// A second run finds the pool of the declared size and changes nothing;
// one of another size is reported, not resized.
func TestExistingThinPool(t *testing.T) {
	for _, tc := range []struct {
		name    string
		lv      exectest.Step
		result  PoolResult
		message string
	}{
		{"declared size", lvRow("pool0", "twi-a-tz--", "thin-pool", half), PoolUnchanged, "the thin pool exists with the declared size"},
		{"other size", lvRow("pool0", "twi-a-tz--", "thin-pool", 40*mib), PoolDiffers,
			"the thin pool exists with 41943040 bytes, the declaration asks for 62914560; prepare does not resize thin pools (lvextend it if that is what you want)"},
		{"not a pool", lvRow("pool0", "-wi-a-----", "linear", half), PoolRefused,
			"vg1/pool0 exists and is a linear volume, not a thin pool; prepare creates a pool only where no volume of its name exists"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := exectest.New(t, steps(
				one(vgExists("vg1", true)),
				one(exectest.Step{Cmd: pvsCmd, Stdout: pvs(pvRow{2, "vg1"})}),
				inspect(t, loop2, "lvm2-member"),
				one(vgExists("vg1", true)),
				one(tc.lv),
			)...)
			rep, err := run(t, s, Options{}, withPool(volumeGroup("vg1", "/dev/loop2"), "50%"))
			if err != nil {
				t.Fatal(err)
			}
			tp := rep.VolumeGroups[0].ThinPool
			if tp.Result != tc.result || tp.Message != tc.message || tp.SizeBytes != half {
				t.Errorf("pool report = %+v", tp)
			}
			if rep.VolumeGroups[0].Result != ResultUnchanged {
				t.Errorf("volume group result = %s", rep.VolumeGroups[0].Result)
			}
			err = rep.Err()
			if refused := tc.result == PoolRefused; refused != (err != nil) ||
				refused && err.Error() != "1 thin pool was refused and left as found:\n  vg1: thin pool pool0: "+tc.message {
				t.Errorf("Err() = %v", err)
			}
		})
	}
}

func TestThinPoolDryRun(t *testing.T) {
	// A VG to create: the share of it is not known yet; nothing runs
	// but the inspection.
	s := exectest.New(t, steps(
		one(vgExists("vg1", false)),
		one(exectest.Step{Cmd: pvsCmd, Stdout: pvs()}),
		inspect(t, loop2, "blank"),
	)...)
	rep, err := run(t, s, Options{DryRun: true}, withPool(volumeGroup("vg1", "/dev/loop2"), "80%"))
	if err != nil || rep.Err() != nil {
		t.Fatalf("%v, %v", err, rep.Err())
	}
	want := &ThinPoolReport{Name: "pool0", Result: PoolWouldCreate, Message: "would create it with 80% of the volume group once prepared"}
	if d := cmp.Diff(want, rep.VolumeGroups[0].ThinPool); d != "" {
		t.Errorf("pool report (-want +got):\n%s", d)
	}

	// A VG that exists: the pool's size is known, and nothing is created.
	s = exectest.New(t, steps(
		one(vgExists("vg1", true)),
		one(exectest.Step{Cmd: pvsCmd, Stdout: pvs(pvRow{2, "vg1"})}),
		inspect(t, loop2, "lvm2-member"),
		one(vgExists("vg1", true)),
		one(lvMissing(poolLVs)),
	)...)
	rep, err = run(t, s, Options{DryRun: true}, withPool(volumeGroup("vg1", "/dev/loop2"), "50%"))
	if err != nil || rep.Err() != nil {
		t.Fatalf("%v, %v", err, rep.Err())
	}
	want = &ThinPoolReport{Name: "pool0", Result: PoolWouldCreate, SizeBytes: half, Message: "would create it"}
	if d := cmp.Diff(want, rep.VolumeGroups[0].ThinPool); d != "" {
		t.Errorf("pool report (-want +got):\n%s", d)
	}
	for _, c := range s.Calls() {
		if strings.Contains(c, "lvcreate") {
			t.Errorf("a dry run ran %s", c)
		}
	}
}

// A VG left unchanged by a refused device gets no pool.
func TestThinPoolOfARefusedVolumeGroupIsSkipped(t *testing.T) {
	s := exectest.New(t, steps(
		one(vgExists("vg1", false)),
		one(exectest.Step{Cmd: pvsCmd, Stdout: pvs()}),
		inspect(t, loop2, "ext4"),
	)...)
	rep, err := run(t, s, Options{}, withPool(volumeGroup("vg1", "/dev/loop2"), "50%"))
	if err != nil {
		t.Fatal(err)
	}
	if tp := rep.VolumeGroups[0].ThinPool; tp.Result != PoolSkipped || tp.Message != "the volume group was not prepared" {
		t.Errorf("pool report = %+v", tp)
	}
}

// An absolute size rounds up to whole extents and, when a chunk is larger
// than an extent, to whole chunks, as LVM rounds it; the chunk and metadata
// sizes reach lvcreate.
func TestThinPoolSizesAndOptions(t *testing.T) {
	vg := volumeGroup("vg1", "/dev/loop2")
	vg.ThinPool = &config.PreparedThinPool{Name: "pool0", Size: "10Mi", ChunkSize: quantity("8Mi"), MetadataSize: quantity("4Mi")}
	s := exectest.New(t, steps(
		one(vgExists("vg1", true)),
		one(exectest.Step{Cmd: pvsCmd, Stdout: pvs(pvRow{2, "vg1"})}),
		inspect(t, loop2, "lvm2-member"),
		one(vgExists("vg1", true)),
		one(lvMissing(poolLVs)),
		one(exectest.Step{Cmd: "lvm lvcreate -y -n pool0 -L 16777216b --type thin-pool --chunksize 8192k --poolmetadatasize 4096k vg1",
			ExitCode: 5, Stderr: "  Volume group \"vg1\" has insufficient free space (3 extents): 6 required.\n"}),
	)...)
	rep, err := run(t, s, Options{}, vg)
	if err == nil || !strings.Contains(err.Error(), "volume group vg1: thin pool pool0: lvcreate:") {
		t.Fatalf("err = %v", err)
	}
	tp := rep.VolumeGroups[0].ThinPool
	if tp.Result != PoolFailed || tp.SizeBytes != 16*mib || !strings.Contains(tp.Error, "insufficient free space") {
		t.Errorf("pool report = %+v", tp)
	}
}

func TestPoolSize(t *testing.T) {
	vg := vgOfSize(1000*mib, 4*mib)
	for _, tc := range []struct {
		pct   int
		abs   int64
		chunk int64
		want  int64
	}{
		{pct: 50, want: 500 * mib},
		{pct: 33, want: 328 * mib}, // 330 MiB rounded down to extents
		{pct: 100, want: 1000 * mib},
		{abs: 1, want: 4 * mib},
		{abs: 9 * mib, chunk: 64 << 10, want: 12 * mib},
		{abs: 9 * mib, chunk: 6 * mib, want: 12 * mib}, // lcm(4, 6) MiB
		{pct: 1, chunk: 16 * mib, want: 0},
	} {
		if got := poolSize(tc.pct, tc.abs, vg, tc.chunk); got != tc.want {
			t.Errorf("poolSize(%d%%, %d, chunk %d) = %d, want %d", tc.pct, tc.abs, tc.chunk, got, tc.want)
		}
	}
}

func vgOfSize(size, extent int64) lvm.VG { return lvm.VG{Name: "vg1", Size: size, ExtentSize: extent} }
