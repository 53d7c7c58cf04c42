package lvmd

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/toposuite/toposuite/internal/exec/exectest"
	"github.com/toposuite/toposuite/internal/storage"
	"github.com/toposuite/toposuite/lvmd/config"
)

// The wipe before a removal over a scripted runner: which LV is wiped.
// The wipe itself runs on real devices in the integration tests
// (devloop_wipe_integration_test.go, vm_wipe_inner_test.go).

const uidA, uidB = "0a0a0a0a-0000-4000-8000-00000000000a", "0b0b0b0b-0000-4000-8000-00000000000b"

// vol1 belongs to uidA; its device path does not exist, so that a wipe
// of it fails loudly.
const lvsVol1 = `{"report":[{"lv":[{"lv_name":"vol1","vg_name":"vg0","lv_uuid":"Zx0c1v","lv_size":"104857600","lv_attr":"-wi-a-----","lv_path":"/dev/toposuite-no-such-vg/vol1","lv_tags":"toposuite.io/owned,toposuite.io/class=ssd,toposuite.io/owner-uid=` + uidA + `","pool_lv":"","origin":"","origin_size":"","data_percent":"","metadata_percent":"","segtype":"linear"}]}]}`

func newWiping(t *testing.T, steps ...exectest.Step) (*Backend, *exectest.Script) {
	t.Helper()
	cfg := testConfig()
	cfg.DeviceClasses[0].WipeOnRemove = config.WipeZero
	return newScriptedWith(t, cfg, steps...)
}

// A removal asked by another owner wipes nothing: the LV lacks the
// claim's owner tag, so it is neither wiped nor removed.
func TestWipeSparesAnotherOwnersVolume(t *testing.T) {
	b, s := newWiping(t,
		lvsStep("vol1", lvsVol1),
		exectest.Step{Cmd: "lvm lvremove -y -S 'lv_name=vol1 && lv_tags=toposuite.io/class=ssd && lv_tags=toposuite.io/owner-uid=" + uidB + "' vg0"},
		lvsStep("vol1", lvsVol1),
	)
	err := b.RemoveVolume(context.Background(), "ssd", "vol1", storage.Claim{OwnerUID: uidB})
	if !errors.Is(err, storage.ErrOwnedByAnother) {
		t.Errorf("removal by another owner: %v, want ErrOwnedByAnother (and no wipe)\n%s", err, exectest.Lines(s.Calls()))
	}
}

// The owner's removal wipes first; a wipe that fails stops the removal,
// so a volume never goes back to the volume group unwiped.
func TestFailedWipeStopsTheRemoval(t *testing.T) {
	b, s := newWiping(t, lvsStep("vol1", lvsVol1))
	err := b.RemoveVolume(context.Background(), "ssd", "vol1", storage.Claim{OwnerUID: uidA})
	if err == nil || !strings.Contains(err.Error(), "wipe") {
		t.Errorf("removal whose wipe fails: %v, want an error naming the wipe", err)
	}
	if calls := exectest.Lines(s.Calls()); strings.Contains(calls, "lvremove") {
		t.Errorf("the volume was removed without its wipe:\n%s", calls)
	}
}
