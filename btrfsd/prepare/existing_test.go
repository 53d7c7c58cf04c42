package prepare

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/toposuite/toposuite/internal/exec/exectest"
)

// Filesystems that exist on the declared devices, not mounted at the path.

// Declaring only some devices of a multi-device filesystem refuses them:
// mounting would use, and wiping would break, devices outside the pool.
func TestPartlyDeclaredFilesystemIsRefused(t *testing.T) {
	for _, listed := range []bool{false, true} {
		s := exectest.New(t, steps(
			one(noPVs(t)),
			inspect(t, loop3, "btrfs-raid1-a"),
			one(notMounted(pathMirror)),
			showAll(t, "btrfs-show-mounted.out", "btrfs-show-all.out"),
		)...)
		p := pool("mirror", pathMirror, "/dev/loop3")
		if listed {
			p = withWipe(p, "/dev/loop3")
		}
		rep, err := run(t, s, &fakeQuota{}, Options{}, p)
		if err != nil {
			t.Fatal(err)
		}
		d := rep.Pools[0].Devices[0]
		want := "is one of the 2 devices of btrfs filesystem " + uuidMirror + ` (label "topols-mirror"); /dev/loop4 is not declared`
		if rep.Pools[0].Result != ResultRefused || d.Action != ActionRefuse || d.Reason != want || d.Problems[0].Code != ReasonPartlyDeclared {
			t.Errorf("wipe=%v: %+v", listed, rep.Pools[0])
		}
	}
}

func TestFilesystemWithMissingDevicesIsRefused(t *testing.T) {
	s := exectest.New(t, steps(
		one(noPVs(t)),
		inspect(t, loop3, "btrfs-raid1-a"),
		one(notMounted(pathMirror)),
		showAll(t, "btrfs-show-mounted.out", "btrfs-show-missing.out"),
	)...)
	rep, err := run(t, s, &fakeQuota{}, Options{}, pool("mirror", pathMirror, "/dev/loop3"))
	if err != nil {
		t.Fatal(err)
	}
	d := rep.Pools[0].Devices[0]
	if d.Action != ActionRefuse || d.Problems[0].Code != ReasonIncomplete ||
		d.Reason != "is a device of btrfs filesystem "+uuidMirror+` (label "topols-mirror"), which has 1 of its 2 devices present: mount it degraded or repair it by hand` {
		t.Errorf("device = %+v", d)
	}
}

// The pool's filesystem mounted at another path is not mounted twice.
func TestFilesystemMountedElsewhereIsRefused(t *testing.T) {
	s := exectest.New(t, steps(
		one(noPVs(t)),
		inspect(t, loop2.mountedAt("/srv/old"), "btrfs-single"),
		one(notMounted("/var/lib/topols/fast")),
		showAll(t, "btrfs-show-mounted.out", "btrfs-show-all.out"),
	)...)
	rep, err := run(t, s, &fakeQuota{}, Options{}, pool("fast", "/var/lib/topols/fast", "/dev/loop2"))
	if err != nil {
		t.Fatal(err)
	}
	d := rep.Pools[0].Devices[0]
	if rep.Pools[0].Result != ResultRefused || d.Action != ActionRefuse ||
		d.Reason != "holds btrfs filesystem "+uuidFast+` (label "topols-fast"), which is mounted, but not at /var/lib/topols/fast` {
		t.Errorf("pool = %+v", rep.Pools[0])
	}
}

// A btrfs filesystem that is not the pool's (here: on one of two declared
// devices) is a filesystem like any other: refused unless listed under
// wipe, wiped when listed.
func TestAnotherFilesystemNeedsWipe(t *testing.T) {
	inspected := steps(
		one(noPVs(t)),
		inspect(t, loop5, "btrfs-nolabel"),
		inspect(t, loop6, "blank"),
		one(notMounted(pathFast)),
		showAll(t, "btrfs-show-mounted.out", "btrfs-show-all.out"),
	)
	p := pool("fast", pathFast, "/dev/loop5", "/dev/loop6")
	rep, err := run(t, exectest.New(t, inspected...), &fakeQuota{}, Options{}, p)
	if err != nil {
		t.Fatal(err)
	}
	if d := rep.Pools[0].Devices[0]; d.Action != ActionRefuse || d.Reason != "has a filesystem (btrfs); list it under wipe to erase its signatures" {
		t.Errorf("device = %+v", d)
	}

	s := exectest.New(t, inspected...)
	s.Add(
		exectest.Step{Cmd: "wipefs --all /dev/loop5", Stdout: "/dev/loop5: 8 bytes were erased at offset 0x00010040 (btrfs): 5f 42 48 52 66 53 5f 4d\n"},
		exectest.Step{Cmd: "mkfs.btrfs -L topols-fast /dev/loop5 /dev/loop6", Stdout: testdata(t, "mkfs-single.out")},
		exectest.Step{Cmd: "mkdir -p " + pathFast},
		exectest.Step{Cmd: "mount -t btrfs -o device=/dev/loop6 /dev/loop5 " + pathFast},
		exectest.Step{Cmd: showCmd + " " + pathFast, Stdout: testdata(t, "btrfs-show-path.out")},
	)
	rep, err = run(t, s, &fakeQuota{}, Options{}, withWipe(p, "/dev/loop5"))
	if err != nil || rep.Err() != nil {
		t.Fatalf("%v, %v", err, rep.Err())
	}
	if d := cmp.Diff(map[string]Action{"/dev/loop5": ActionWipeAndUse, "/dev/loop6": ActionUse}, actions(rep.Pools[0])); d != "" || rep.Pools[0].Result != ResultCreated {
		t.Errorf("%s: actions (-want +got):\n%s", rep.Pools[0].Result, d)
	}
}

// The pool's own filesystem (by its label) on devices that no longer match
// the declaration is never wiped, even when listed: prepare does not grow
// filesystems, and wiping would lose the pool.
func TestPoolFilesystemIsNeverWiped(t *testing.T) {
	s := exectest.New(t, steps(
		one(noPVs(t)),
		inspect(t, loop3, "btrfs-raid1-a"),
		inspect(t, loop4, "btrfs-raid1-b"),
		inspect(t, loop6, "blank"),
		one(notMounted(pathMirror)),
		showAll(t, "btrfs-show-mounted.out", "btrfs-show-all.out"),
	)...)
	p := withWipe(pool("mirror", pathMirror, "/dev/loop3", "/dev/loop4", "/dev/loop6"), "/dev/loop3", "/dev/loop4")
	rep, err := run(t, s, &fakeQuota{}, Options{}, p)
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Pools[0]
	if r.Result != ResultRefused || r.Message != "nothing changed: 2 of 3 declared devices refused" {
		t.Errorf("result = %s %q", r.Result, r.Message)
	}
	if d := r.Devices[0]; d.Action != ActionRefuse || d.Problems[0].Code != ReasonPoolFilesystem ||
		!strings.HasPrefix(d.Reason, "holds this pool's btrfs filesystem "+uuidMirror+` (label "topols-mirror"), but the declared devices are not exactly its devices`) {
		t.Errorf("device = %+v", d)
	}
}

// A device of the filesystem to mount that is read-only (or otherwise
// unfit) keeps the pool from being mounted.
func TestExistingFilesystemOnAnUnfitDevice(t *testing.T) {
	s := exectest.New(t, steps(
		one(noPVs(t)),
		inspect(t, loopDev{n: 2, size: 256 * mib, ro: true}, "btrfs-single"),
		one(notMounted(pathFast)),
		showAll(t, "", "btrfs-show-all.out"),
	)...)
	rep, err := run(t, s, &fakeQuota{}, Options{}, pool("fast", pathFast, "/dev/loop2"))
	if err != nil {
		t.Fatal(err)
	}
	if d := rep.Pools[0].Devices[0]; d.Action != ActionRefuse || d.Reason != "holds the btrfs filesystem to mount, but is read-only" {
		t.Errorf("device = %+v", d)
	}
}
