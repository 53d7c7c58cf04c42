package prepare

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/toposuite/toposuite/internal/exec/exectest"
)

// What is mounted at the pool path decides first.

// Something other than btrfs at the path refuses the pool itself.
func TestPathMountedWithAnotherFilesystem(t *testing.T) {
	s := exectest.New(t, steps(
		one(noPVs(t)),
		inspect(t, loop3, "blank"),
		one(exectest.Step{Cmd: findmntCmd + pathMirror, Stdout: testdata(t, "findmnt-ext4.json")}),
	)...)
	rep, err := run(t, s, &fakeQuota{}, Options{}, pool("mirror", pathMirror, "/dev/loop3"))
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Pools[0]
	reason := "is a mount point already, of ext4 from /dev/loop4, not of a btrfs filesystem"
	if r.Result != ResultRefused || r.Reason != reason || r.Message != "nothing changed: the pool path "+reason {
		t.Errorf("pool = %+v", r)
	}
	if err := rep.Err(); err == nil || err.Error() != "1 pool path was refused, and the pools concerned were left unchanged:\n  mirror: "+pathMirror+": "+reason {
		t.Errorf("Err() = %v", err)
	}
}

// A device declared next to the mounted filesystem's is refused: prepare
// does not add devices to a filesystem.
func TestMountedFilesystemIsNotExtended(t *testing.T) {
	s := exectest.New(t, steps(
		one(noPVs(t)),
		inspect(t, loop2.mountedAt(pathFast), "btrfs-single"),
		inspect(t, loop6, "blank"),
		one(exectest.Step{Cmd: findmntCmd + pathFast, Stdout: testdata(t, "findmnt-btrfs.json")},
			exectest.Step{Cmd: showCmd + " " + pathFast, Stdout: testdata(t, "btrfs-show-path.out")}),
	)...)
	q := &fakeQuota{enabled: map[string]bool{uuidFast: true}}
	rep, err := run(t, s, q, Options{}, pool("fast", pathFast, "/dev/loop2", "/dev/loop6"))
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Pools[0]
	if d := cmp.Diff(map[string]Action{"/dev/loop2": ActionKeep, "/dev/loop6": ActionRefuse}, actions(r)); d != "" || r.Result != ResultRefused {
		t.Errorf("%s: actions (-want +got):\n%s", r.Result, d)
	}
	if d := r.Devices[1]; d.Problems[0].Code != ReasonNotAMember || !strings.HasSuffix(d.Reason, "prepare does not add devices to an existing filesystem (btrfs device add does)") {
		t.Errorf("refusal = %+v", d)
	}
}

// A device removed from the declaration stays in the filesystem.
func TestUndeclaredDeviceIsLeftInPlace(t *testing.T) {
	s := exectest.New(t, steps(
		one(noPVs(t)),
		inspect(t, loop3.mountedAt(pathMirror), "btrfs-raid1-a"),
		one(exectest.Step{Cmd: findmntCmd + pathMirror, Stdout: `{"filesystems": [{"target": "` + pathMirror + `", "source": "/dev/loop3", "fstype": "btrfs", "options": "rw,relatime"}]}`},
			exectest.Step{Cmd: showCmd + " " + pathMirror, Stdout: testdata(t, "btrfs-show-raid1.out")}),
	)...)
	q := &fakeQuota{enabled: map[string]bool{uuidMirror: true}}
	rep, err := run(t, s, q, Options{}, pool("mirror", pathMirror, "/dev/loop3"))
	if err != nil || rep.Err() != nil {
		t.Fatalf("%v, %v", err, rep.Err())
	}
	r := rep.Pools[0]
	if r.Result != ResultUnchanged || !strings.HasSuffix(r.Message, "; 1 device no longer declared left in place") {
		t.Errorf("result = %s %q", r.Result, r.Message)
	}
	if d := cmp.Diff(map[string]Action{"/dev/loop3": ActionKeep, "/dev/loop4": ActionLeaveInPlace}, actions(r)); d != "" {
		t.Errorf("actions (-want +got):\n%s", d)
	}
	for _, c := range s.Calls() {
		if strings.Contains(c, "wipefs --all") || strings.Contains(c, "device remove") || strings.HasPrefix(c, "mount ") {
			t.Errorf("changing command: %s", c)
		}
	}
}
