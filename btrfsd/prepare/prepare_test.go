package prepare

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/toposuite/toposuite/internal/exec/exectest"
	"github.com/toposuite/toposuite/internal/storage"
)

func TestCreatesOnABlankDevice(t *testing.T) {
	s := exectest.New(t, steps(
		one(noPVs(t)),
		inspect(t, loop2, "blank"),
		one(notMounted(pathFast),
			exectest.Step{Cmd: "mkfs.btrfs -L topols-fast /dev/loop2", Stdout: testdata(t, "mkfs-single.out")},
			exectest.Step{Cmd: "mkdir -p " + pathFast},
			exectest.Step{Cmd: "mount -t btrfs /dev/loop2 " + pathFast},
			exectest.Step{Cmd: showCmd + " " + pathFast, Stdout: testdata(t, "btrfs-show-path.out")}),
	)...)
	q := &fakeQuota{}
	rep, err := run(t, s, q, Options{}, pool("fast", pathFast, "/dev/loop2"))
	if err != nil || rep.Err() != nil {
		t.Fatalf("%v, %v", err, rep.Err())
	}
	want := []PoolReport{{
		Name: "fast", Path: pathFast, Result: ResultCreated,
		Message: "made a btrfs filesystem of 1 device, mounted it at " + pathFast + " and turned quotas on",
		UUID:    uuidFast, Label: "topols-fast", QuotaEnabled: true,
		Devices: []DeviceReport{{Device: "/dev/loop2", Action: ActionUse, Reason: "blank"}},
	}}
	if d := cmp.Diff(want, rep.Pools); d != "" {
		t.Errorf("report (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{pathFast}, q.calls); d != "" {
		t.Errorf("quota enabled on (-want +got):\n%s", d)
	}
}

// Profiles and mount options reach mkfs.btrfs and mount; every device but
// the first is named with device= so that the mount needs no device scan.
func TestCreatesRAID1WithOptions(t *testing.T) {
	s := exectest.New(t, steps(
		one(noPVs(t)),
		inspect(t, loop3, "blank"),
		inspect(t, loop4, "blank"),
		one(notMounted(pathMirror),
			exectest.Step{Cmd: "mkfs.btrfs -L topols-mirror -d raid1 -m raid1 /dev/loop3 /dev/loop4", Stdout: testdata(t, "mkfs-raid1.out")},
			exectest.Step{Cmd: "mkdir -p " + pathMirror},
			exectest.Step{Cmd: "mount -t btrfs -o noatime,compress=zstd:3,device=/dev/loop4 /dev/loop3 " + pathMirror},
			exectest.Step{Cmd: showCmd + " " + pathMirror, Stdout: testdata(t, "btrfs-show-raid1.out")}),
	)...)
	p := pool("mirror", pathMirror, "/dev/loop3", "/dev/loop4")
	p.Filesystem.DataProfile, p.Filesystem.MetadataProfile = "raid1", "raid1"
	p.Filesystem.MountOptions = []string{"noatime", "compress=zstd:3"}
	rep, err := run(t, s, &fakeQuota{}, Options{}, p)
	if err != nil || rep.Err() != nil {
		t.Fatalf("%v, %v", err, rep.Err())
	}
	if r := rep.Pools[0]; r.Result != ResultCreated || r.UUID != uuidMirror ||
		r.Message != "made a btrfs filesystem of 2 devices (data raid1, metadata raid1), mounted it at "+pathMirror+" and turned quotas on" {
		t.Errorf("report = %+v", r)
	}
}

func TestAlreadyMountedIsUnchanged(t *testing.T) {
	s := exectest.New(t, steps(
		one(noPVs(t)),
		inspect(t, loop2.mountedAt(pathFast), "btrfs-single"),
		one(exectest.Step{Cmd: findmntCmd + pathFast, Stdout: testdata(t, "findmnt-btrfs.json")},
			exectest.Step{Cmd: showCmd + " " + pathFast, Stdout: testdata(t, "btrfs-show-path.out")}),
	)...)
	q := &fakeQuota{enabled: map[string]bool{uuidFast: true}}
	rep, err := run(t, s, q, Options{}, pool("fast", pathFast, "/dev/loop2"))
	if err != nil || rep.Err() != nil {
		t.Fatalf("%v, %v", err, rep.Err())
	}
	want := []PoolReport{{
		Name: "fast", Path: pathFast, Result: ResultUnchanged,
		Message: "the btrfs filesystem of 1 declared device is mounted at " + pathFast + " already",
		UUID:    uuidFast, Label: "topols-fast",
		Devices: []DeviceReport{{Device: "/dev/loop2", Action: ActionKeep, Reason: "a device of the btrfs filesystem mounted at " + pathFast}},
	}}
	if d := cmp.Diff(want, rep.Pools); d != "" {
		t.Errorf("report (-want +got):\n%s", d)
	}
	if len(q.calls) != 0 {
		t.Errorf("quota enabled again: %v", q.calls)
	}
}

// A filesystem left without quotas (a creation cut short) gets them, in
// a real run only.
func TestUnchangedTurnsQuotasOn(t *testing.T) {
	for _, dry := range []bool{true, false} {
		s := exectest.New(t, steps(
			one(noPVs(t)),
			inspect(t, loop2.mountedAt(pathFast), "btrfs-single"),
			one(exectest.Step{Cmd: findmntCmd + pathFast, Stdout: testdata(t, "findmnt-btrfs.json")},
				exectest.Step{Cmd: showCmd + " " + pathFast, Stdout: testdata(t, "btrfs-show-path.out")}),
		)...)
		q := &fakeQuota{}
		rep, err := run(t, s, q, Options{DryRun: dry}, pool("fast", pathFast, "/dev/loop2"))
		if err != nil || rep.Err() != nil {
			t.Fatalf("%v, %v", err, rep.Err())
		}
		r := rep.Pools[0]
		want, calls := "; quotas were off: turned them on", 1
		if dry {
			want, calls = "; quotas are off: would turn them on", 0
		}
		if r.Result != ResultUnchanged || !r.QuotaEnabled || !strings.HasSuffix(r.Message, want) || len(q.calls) != calls {
			t.Errorf("dry run %v: %+v, quota calls %v", dry, r, q.calls)
		}
	}
}

func TestMountsTheExistingFilesystem(t *testing.T) {
	s := exectest.New(t, steps(
		one(noPVs(t)),
		inspect(t, loop3, "btrfs-raid1-a"),
		inspect(t, loop4, "btrfs-raid1-b"),
		one(notMounted(pathMirror)),
		showAll(t, "btrfs-show-mounted.out", "btrfs-show-all.out"),
		one(exectest.Step{Cmd: "mkdir -p " + pathMirror},
			exectest.Step{Cmd: "mount -t btrfs -o device=/dev/loop4 /dev/loop3 " + pathMirror}),
	)...)
	q := &fakeQuota{enabled: map[string]bool{uuidMirror: true}}
	p := pool("mirror", pathMirror, "/dev/loop3", "/dev/loop4")
	// Listed under wipe, they are still mounted, not wiped: wipe allows,
	// it does not ask.
	rep, err := run(t, s, q, Options{}, withWipe(p, "/dev/loop3", "/dev/loop4"))
	if err != nil || rep.Err() != nil {
		t.Fatalf("%v, %v", err, rep.Err())
	}
	reason := `holds the pool's btrfs filesystem ` + uuidMirror + ` (label "topols-mirror")`
	want := []PoolReport{{
		Name: "mirror", Path: pathMirror, Result: ResultMounted,
		Message: "mounted the existing btrfs filesystem of 2 devices at " + pathMirror,
		UUID:    uuidMirror, Label: "topols-mirror",
		Devices: []DeviceReport{{Device: "/dev/loop3", Action: ActionKeep, Reason: reason}, {Device: "/dev/loop4", Action: ActionKeep, Reason: reason}},
	}}
	if d := cmp.Diff(want, rep.Pools); d != "" {
		t.Errorf("report (-want +got):\n%s", d)
	}
}

func TestRefusesADirtyDeviceUnlessListedUnderWipe(t *testing.T) {
	refuse := exectest.New(t, steps(
		one(noPVs(t)),
		inspect(t, loop2, "blank"),
		inspect(t, loop3, "ext4"),
		one(notMounted(pathFast)),
	)...)
	p := pool("fast", pathFast, "/dev/loop2", "/dev/loop3")
	rep, err := run(t, refuse, &fakeQuota{}, Options{}, p)
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Pools[0]
	if r.Result != ResultRefused || r.Message != "nothing changed: 1 of 2 declared devices refused" {
		t.Errorf("result = %s %q", r.Result, r.Message)
	}
	if d := r.Devices[1]; d.Action != ActionRefuse || d.Reason != "has a filesystem (ext4); list it under wipe to erase its signatures" {
		t.Errorf("refusal = %+v", d)
	}
	err = rep.Err()
	if !errors.Is(err, storage.ErrPrecondition) || err.Error() != "1 device was refused, and the pools concerned were left unchanged:\n"+
		"  fast: /dev/loop3: has a filesystem (ext4); list it under wipe to erase its signatures" {
		t.Errorf("Err() = %v", err)
	}

	wipe := exectest.New(t, steps(
		one(noPVs(t)),
		inspect(t, loop2, "blank"),
		inspect(t, loop3, "ext4-and-dos"),
		one(notMounted(pathFast),
			exectest.Step{Cmd: "wipefs --all /dev/loop3", Stdout: "/dev/loop3: 2 bytes were erased at offset 0x00000438 (ext4): 53 ef\n"},
			exectest.Step{Cmd: "mkfs.btrfs -L topols-fast /dev/loop2 /dev/loop3", Stdout: testdata(t, "mkfs-single.out")},
			exectest.Step{Cmd: "mkdir -p " + pathFast},
			exectest.Step{Cmd: "mount -t btrfs -o device=/dev/loop3 /dev/loop2 " + pathFast},
			exectest.Step{Cmd: showCmd + " " + pathFast, Stdout: testdata(t, "btrfs-show-path.out")}),
	)...)
	rep, err = run(t, wipe, &fakeQuota{}, Options{}, withWipe(p, "/dev/loop3"))
	if err != nil || rep.Err() != nil {
		t.Fatalf("%v, %v", err, rep.Err())
	}
	d := rep.Pools[0].Devices[1]
	if rep.Pools[0].Result != ResultCreated || d.Action != ActionWipeAndUse || cmp.Diff([]string{"ext4", "dos"}, d.Wiped) != "" ||
		d.Reason != `listed under wipe: has a filesystem (ext4, labelled "data"); has a partition table (dos)` {
		t.Errorf("wiped device = %+v", d)
	}
}

// Wiping never applies to a mounted device, an LVM physical volume, a
// read-only or too small device, nor to one of a btrfs filesystem that
// wiping would break.
func TestRefusalsThatWipeDoesNotLift(t *testing.T) {
	pvs := exectest.Step{Cmd: pvsCmd, Stdout: readFile(t, "../../lvmd/lvm/testdata/pvs.json")} // loop2: no VG; loop5: scratchvg
	for _, tc := range []struct {
		name   string
		pvs    exectest.Step
		dev    loopDev
		kind   string
		btrfs  bool // a btrfs signature makes prepare list the filesystems
		reason string
	}{
		{"mounted", noPVs(t), loop3.mountedAt("/mnt/data"), "ext4", false, "is mounted at /mnt/data"},
		{"PV of a volume group", pvs, loop5, "lvm2-member", false, "is an LVM physical volume of volume group scratchvg"},
		{"PV in no volume group", pvs, loop2, "lvm2-member", false, "is an LVM physical volume in no volume group"},
		{"PV hidden from LVM", noPVs(t), loop3, "lvm2-member", false, "has an LVM physical volume signature, but LVM does not report it"},
		{"too small", noPVs(t), loopDev{n: 3, size: 16 * mib}, "blank", false, "is 16Mi (16777216 bytes), smaller than the minimum of 32Mi (33554432 bytes)"},
		{"read-only", noPVs(t), loopDev{n: 3, size: 256 * mib, ro: true}, "blank", false, "is read-only"},
		// Only loop3 of the two devices of topols-mirror is declared.
		{"one device of a multi-device filesystem", noPVs(t), loop3, "btrfs-raid1-a", true, `is one of the 2 devices of btrfs filesystem ` + uuidMirror +
			` (label "topols-mirror"); /dev/loop4 is not declared, and wiping this one would break it`},
		// lsblk shows only one device of a mounted multi-device filesystem
		// as mounted; loop3 is not, loop2's filesystem is.
		{"device of a mounted filesystem", noPVs(t), loop2, "btrfs-single", true, `is a device of btrfs filesystem ` + uuidFast +
			` (label "topols-fast"), which is mounted`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, listed := range []bool{false, true} {
				s := exectest.New(t, steps(one(tc.pvs), inspect(t, loop6, "blank"), inspect(t, tc.dev, tc.kind), one(notMounted(pathFast)))...)
				if tc.btrfs {
					s.Add(showAll(t, "btrfs-show-mounted.out", "btrfs-show-all.out")...)
				}
				p := pool("other", pathFast, "/dev/loop6", tc.dev.path())
				if listed {
					p = withWipe(p, tc.dev.path())
				}
				rep, err := run(t, s, &fakeQuota{}, Options{}, p)
				if err != nil {
					t.Fatal(err)
				}
				d := rep.Pools[0].Devices[1]
				if d.Action != ActionRefuse || !strings.HasPrefix(d.Reason, tc.reason) {
					t.Errorf("wipe=%v: device = %+v", listed, d)
				}
				if listed && !strings.Contains(d.Reason, "listed under wipe, but wiping only erases signatures") {
					t.Errorf("wipe=%v: reason does not say why wipe does not help: %q", listed, d.Reason)
				}
				if rep.Pools[0].Result != ResultRefused || rep.Err() == nil {
					t.Errorf("wipe=%v: result %s, Err %v", listed, rep.Pools[0].Result, rep.Err())
				}
			}
		})
	}
}
