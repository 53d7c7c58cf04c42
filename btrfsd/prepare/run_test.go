package prepare

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/toposuite/toposuite/btrfsd/config"
	"github.com/toposuite/toposuite/internal/exec"
	"github.com/toposuite/toposuite/internal/exec/exectest"
)

// How a run goes as a whole: dry runs, failures, pools side by side.

// A dry run inspects everything and changes nothing: the script holds no
// wipefs --all, mkfs.btrfs, mkdir or mount, and quotas are not touched.
func TestDryRunChangesNothing(t *testing.T) {
	s := exectest.New(t, steps(
		one(noPVs(t)),
		inspect(t, loop2, "ext4"),
		one(notMounted(pathFast)),
		inspect(t, loop3, "btrfs-raid1-a"),
		inspect(t, loop4, "btrfs-raid1-b"),
		one(notMounted(pathMirror)),
		showAll(t, "btrfs-show-mounted.out", "btrfs-show-all.out"),
	)...)
	q := &fakeQuota{}
	fast := withWipe(pool("fast", pathFast, "/dev/loop2"), "/dev/loop2")
	rep, err := run(t, s, q, Options{DryRun: true}, fast, pool("mirror", pathMirror, "/dev/loop3", "/dev/loop4"))
	if err != nil || rep.Err() != nil {
		t.Fatalf("%v, %v", err, rep.Err())
	}
	want := &Report{DryRun: true, Pools: []PoolReport{
		{Name: "fast", Path: pathFast, Result: ResultWouldCreate, Label: "topols-fast", QuotaEnabled: true,
			Message: "would make a btrfs filesystem of 1 device, mount it at " + pathFast + " and turn quotas on",
			Devices: []DeviceReport{{Device: "/dev/loop2", Action: ActionWipeAndUse, Reason: "listed under wipe: has a filesystem (ext4)",
				Wiped: []string{"ext4"}, Problems: rep.Pools[0].Devices[0].Problems}}},
		{Name: "mirror", Path: pathMirror, Result: ResultWouldMount, UUID: uuidMirror, Label: "topols-mirror",
			Message: "would mount the existing btrfs filesystem of 2 devices at " + pathMirror,
			Devices: rep.Pools[1].Devices},
	}}
	if d := cmp.Diff(want, rep); d != "" {
		t.Errorf("report (-want +got):\n%s", d)
	}
	if len(q.calls) != 0 {
		t.Errorf("quotas enabled in a dry run: %v", q.calls)
	}
}

func TestFailedCommandsAreReported(t *testing.T) {
	for _, tc := range []struct {
		name  string
		last  []exectest.Step
		error string
	}{
		// mkfs.btrfs, never forced, refuses a device that got a signature
		// since it was inspected.
		{"mkfs", one(exectest.Step{Cmd: "mkfs.btrfs -L topols-fast /dev/loop2", ExitCode: 1, Stderr: testdata(t, "mkfs-existing.stderr")}),
			"pool fast: make the btrfs filesystem: mkfs.btrfs -L topols-fast /dev/loop2: exit code 1: ERROR: /dev/loop2 appears to contain an existing filesystem (btrfs)"},
		{"mount", one(exectest.Step{Cmd: "mkfs.btrfs -L topols-fast /dev/loop2", Stdout: testdata(t, "mkfs-single.out")},
			exectest.Step{Cmd: "mkdir -p " + pathFast},
			exectest.Step{Cmd: "mount -t btrfs /dev/loop2 " + pathFast, ExitCode: 32, Stderr: testdata(t, "mount-missing-device.stderr")}),
			"pool fast: mount the btrfs filesystem at " + pathFast + ": mount -t btrfs /dev/loop2 " + pathFast + ": exit code 32: mount: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := exectest.New(t, steps(one(noPVs(t)), inspect(t, loop2, "blank"), one(notMounted(pathFast)), tc.last)...)
			rep, err := run(t, s, &fakeQuota{}, Options{}, pool("fast", pathFast, "/dev/loop2"))
			if err == nil || !strings.HasPrefix(err.Error(), tc.error) {
				t.Fatalf("err = %v", err)
			}
			r := rep.Pools[0]
			if r.Result != ResultFailed || !strings.HasPrefix("pool fast: "+r.Error, tc.error) || len(r.Devices) != 1 {
				t.Errorf("report = %+v", r)
			}
		})
	}
}

func TestMissingAndDuplicateDevices(t *testing.T) {
	s := exectest.New(t, steps(
		one(noPVs(t),
			exectest.Step{Cmd: lsblkCmd + "/dev/sdz", ExitCode: 32, Stdout: `{"blockdevices": []}`, Stderr: "lsblk: /dev/sdz: not a block device\n"}),
		inspect(t, loop2, "blank"),
		// The same device under a symlink: lsblk resolves it to loop2.
		one(exectest.Step{Cmd: lsblkCmd + "/dev/disk/by-id/x", Stdout: loop2.lsblk()},
			exectest.Step{Cmd: wipefsCmd + "/dev/loop2", Stdout: content(t, "blank")},
			notMounted(pathFast)),
	)...)
	rep, err := run(t, s, &fakeQuota{}, Options{}, pool("fast", pathFast, "/dev/sdz", "/dev/loop2", "/dev/disk/by-id/x"))
	if err != nil {
		t.Fatal(err)
	}
	devs := rep.Pools[0].Devices
	if devs[0].Action != ActionRefuse || devs[0].Reason != "does not exist or is not a block device" {
		t.Errorf("missing device: %+v", devs[0])
	}
	if devs[2].Action != ActionRefuse || devs[2].Reason != "is the same device as /dev/loop2 (device /dev/loop2 of pool fast)" {
		t.Errorf("duplicate: %+v", devs[2])
	}
	if !strings.HasPrefix(rep.Err().Error(), "2 devices were refused") {
		t.Errorf("Err() = %v", rep.Err())
	}
}

// One pool's refusal does not hold back another; pools without a
// filesystem block are not prepare's.
func TestPoolsAreIndependent(t *testing.T) {
	s := exectest.New(t, steps(
		one(noPVs(t)),
		inspect(t, loop2, "dos"),
		one(notMounted(pathFast)),
		inspect(t, loop6, "blank"),
		one(notMounted("/var/lib/topols/b"),
			exectest.Step{Cmd: "mkfs.btrfs -L topols-b /dev/loop6", Stdout: testdata(t, "mkfs-single.out")},
			exectest.Step{Cmd: "mkdir -p /var/lib/topols/b"},
			exectest.Step{Cmd: "mount -t btrfs /dev/loop6 /var/lib/topols/b"},
			exectest.Step{Cmd: showCmd + " /var/lib/topols/b", Stdout: strings.ReplaceAll(testdata(t, "btrfs-show-path.out"), "topols-fast", "topols-b")}),
	)...)
	dirOnly := config.Pool{Name: "dir", Path: "/srv/dir"}
	rep, err := run(t, s, &fakeQuota{}, Options{}, pool("fast", pathFast, "/dev/loop2"), dirOnly, pool("b", "/var/lib/topols/b", "/dev/loop6"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Pools) != 2 || rep.Pools[0].Result != ResultRefused || rep.Pools[1].Result != ResultCreated {
		t.Fatalf("pools = %+v", rep.Pools)
	}
	if got := rep.Pools[0].Devices[0].Reason; got != "has a partition table (dos); list it under wipe to erase its signatures" {
		t.Errorf("reason = %q", got)
	}
}

// Without LVM, a physical volume is still refused by its signature.
func TestWithoutLVM(t *testing.T) {
	s := exectest.New(t, steps(
		one(exectest.Step{Cmd: pvsCmd, Err: errors.New("lvm: " + exec.ErrNotFound.Error())}),
		inspect(t, loop3, "lvm2-member"),
		one(notMounted(pathFast)),
	)...)
	rep, err := run(t, s, &fakeQuota{}, Options{}, pool("fast", pathFast, "/dev/loop3"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Warnings) != 1 || !strings.HasPrefix(rep.Warnings[0], "cannot list LVM physical volumes, so they are recognized by their signature only") {
		t.Errorf("warnings = %q", rep.Warnings)
	}
	if d := rep.Pools[0].Devices[0]; d.Action != ActionRefuse || !strings.HasPrefix(d.Reason, "has an LVM physical volume signature") {
		t.Errorf("device = %+v", d)
	}

	// A nil lister asks nothing.
	s = exectest.New(t, steps(inspect(t, loop3, "lvm2-member"), one(notMounted(pathFast)))...)
	p := New(s, nil, &fakeQuota{}, testrLogger(t))
	rep, err = p.Prepare(t.Context(), []config.Pool{pool("fast", pathFast, "/dev/loop3")}, Options{})
	if err != nil || rep.Pools[0].Result != ResultRefused || len(rep.Warnings) != 0 {
		t.Errorf("nil lister: %v %+v", err, rep)
	}
}
