package lvmd

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/toposuite/toposuite/internal/exec/exectest"
	"github.com/toposuite/toposuite/internal/storage"
)

// Restoring a thick snapshot over a scripted runner: what lvmd decides
// before and after the copy. The copy itself needs device-mapper and runs
// in the VM lane (vm_thick_restore_inner_test.go).

// snap1 is the report's thick snapshot of thick1 (100 MiB); its device
// path is one that does not exist, so that a copy from it fails.
const lvsSnap1 = `{"report":[{"lv":[{"lv_name":"snap1","vg_name":"vg0","lv_uuid":"3Qe2sK","lv_size":"54525952","lv_attr":"swi-a-s---","lv_path":"/dev/toposuite-no-such-vg/snap1","lv_tags":"toposuite.io/owned,toposuite.io/class=ssd","pool_lv":"","origin":"thick1","origin_size":"104857600","data_percent":"0.01","metadata_percent":"","segtype":"linear"}]}]}`

func lvsStep(name, stdout string) exectest.Step {
	s := exectest.Step{Cmd: "lvm lvs -o " + lvFieldsForTest + " --reportformat json --units b --nosuffix vg0/" + name, Stdout: stdout}
	if stdout == "" {
		s.ExitCode, s.Stderr = 5, "  Failed to find logical volume \"vg0/"+name+"\"\n"
	}
	return s
}

func TestRestoreOfThickSnapshotRefusesWhatCannotBe(t *testing.T) {
	b, s := newScripted(t, lvsStep("snap1", lvsSnap1), lvsStep("snap1", lvsSnap1))
	ctx := context.Background()
	_, err := b.CreateSnapshot(ctx, storage.SnapshotRequest{Name: "small", Class: "ssd", Source: "snap1", SizeBytes: 50 * mib})
	if !errors.Is(err, storage.ErrInvalid) || !strings.Contains(err.Error(), "at least its size, 104857600 bytes") {
		t.Errorf("restore smaller than the snapshot: %v, want ErrInvalid naming the snapshot's size", err)
	}
	_, err = b.CreateSnapshot(ctx, storage.SnapshotRequest{Name: "ro", Class: "ssd", Source: "snap1", SizeBytes: 100 * mib, ReadOnly: true})
	if !errors.Is(err, storage.ErrPrecondition) {
		t.Errorf("read-only snapshot of a thick snapshot: %v, want ErrPrecondition", err)
	}
	invalid := strings.Replace(lvsSnap1, "swi-a-s---", "swi-I-s---", 1)
	s.Add(lvsStep("snap1", invalid))
	_, err = b.CreateSnapshot(ctx, storage.SnapshotRequest{Name: "fromlost", Class: "ssd", Source: "snap1"})
	if !errors.Is(err, storage.ErrPrecondition) || !strings.Contains(err.Error(), "invalid snapshot") {
		t.Errorf("restore of an overflowed snapshot: %v, want ErrPrecondition naming it invalid", err)
	}
	if calls := exectest.Lines(s.Calls()); strings.Contains(calls, "lvcreate") {
		t.Errorf("a refused restore ran lvcreate:\n%s", calls)
	}
}

// A copy that fails takes its volume back, selected by the copying tag,
// and gives its capacity back.
func TestFailedRestoreCopyIsTakenBack(t *testing.T) {
	b, s := newScripted(t,
		lvsStep("snap1", lvsSnap1), lvsStep("restored", ""),
		exectest.Step{
			Cmd:    "lvm lvcreate -y -n restored -L 104857600b --addtag toposuite.io/owned --addtag toposuite.io/class=ssd --addtag toposuite.io/copy-of=snap1 --addtag toposuite.io/copying vg0",
			Stdout: "  Logical volume \"restored\" created.\n",
		},
		exectest.Step{
			Cmd:    "lvm lvremove -y -S 'lv_name=restored && lv_tags=toposuite.io/class=ssd && lv_tags=toposuite.io/copying' vg0",
			Stdout: "  Logical volume \"restored\" successfully removed.\n",
		},
	)
	before := classCap(t, b.Capacity(), "ssd").AvailableBytes
	_, err := b.CreateSnapshot(context.Background(), storage.SnapshotRequest{Name: "restored", Class: "ssd", Source: "snap1"})
	if err == nil || !strings.Contains(err.Error(), "copy snapshot \"snap1\"") {
		t.Fatalf("restore from a snapshot whose device is missing: %v\n%s", err, exectest.Lines(s.Calls()))
	}
	if got := classCap(t, b.Capacity(), "ssd").AvailableBytes; got != before {
		t.Errorf("available after a failed restore = %d, want %d", got, before)
	}
}

// An unfinished copy is reported unhealthy, and lvmd's tags stay its own.
func TestUnfinishedCopyIsNotHealthy(t *testing.T) {
	b, _ := newScripted(t, lvsStep("restored", strings.NewReplacer("snap1", "restored", "swi-a-s---", "-wi-a-----", `"origin":"thick1","origin_size":"104857600"`, `"origin":"","origin_size":""`,
		"toposuite.io/class=ssd", "toposuite.io/class=ssd,toposuite.io/copy-of=snap1,toposuite.io/copying,team=a").Replace(lvsSnap1)))
	v, err := b.GetVolume(context.Background(), "ssd", "restored")
	if err != nil {
		t.Fatal(err)
	}
	if v.Health != storage.HealthAbnormal || !strings.Contains(v.HealthMessage, "incomplete") {
		t.Errorf("unfinished copy: health %v %q, want abnormal, incomplete", v.Health, v.HealthMessage)
	}
	if len(v.Tags) != 1 || v.Tags[0] != "team=a" {
		t.Errorf("tags = %v, want only the user's team=a", v.Tags)
	}
}
