//go:build integration

package csi_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/toposuite/toposuite/internal/api/topolvm/v1"
	"github.com/toposuite/toposuite/internal/controller"
	"github.com/toposuite/toposuite/internal/testutil"
)

// A second LogicalVolume naming a live volume on the same node can neither
// adopt it nor, by being deleted, remove it: the volume under a running
// pod stays, with its data. Before volumes recorded their owner, the second
// object was answered with the live volume, and deleting it removed the
// volume (and the next volume got its extents).
func TestIntegrationSecondObjectCannotTakeOrRemoveALiveVolume(t *testing.T) {
	onBothDrivers(t, secondObject)
}

func secondObject(t *testing.T, p *plugins, fs string) {
	c := testutil.Context(t)
	id := p.newVolume(t, "pvc-live", fs, 32*mib)
	target := p.target("live")
	if _, err := p.node.NodePublishVolume(c, &csi.NodePublishVolumeRequest{VolumeId: id, TargetPath: target, VolumeCapability: mountCap(fs)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = p.node.NodeUnpublishVolume(context.Background(), &csi.NodeUnpublishVolumeRequest{VolumeId: id, TargetPath: target})
	})
	data := filepath.Join(target, "data")
	if err := os.WriteFile(data, []byte("the first owner's bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	var live v1.LogicalVolume
	if err := p.c.Get(c, client.ObjectKey{Name: id}, &live); err != nil {
		t.Fatal(err)
	}

	// The intruder: same driver, node, volume name and size.
	intruder := &v1.LogicalVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "intruder-" + id, Finalizers: []string{v1.Finalizer(p.d.Name)}},
		Spec:       *live.Spec.DeepCopy(),
	}
	if err := p.c.Create(c, intruder); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the node to answer the intruder", func() bool {
		return p.c.Get(c, client.ObjectKey{Name: intruder.Name}, intruder) == nil && intruder.Status.Code != ""
	})
	if intruder.Status.Code != "FailedPrecondition" || intruder.Status.VolumeID != "" {
		t.Errorf("intruder status = %+v, want FailedPrecondition and no volume", intruder.Status)
	}
	wantEvent(t, p, intruder.Name, controller.ReasonOwnedByAnother)

	if err := p.c.Delete(c, intruder); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the intruder to go", func() bool {
		return client.IgnoreNotFound(p.c.Get(c, client.ObjectKey{Name: intruder.Name}, intruder)) == nil &&
			p.c.Get(c, client.ObjectKey{Name: intruder.Name}, intruder) != nil
	})

	// The first owner's volume is untouched: still there, still its data,
	// still growable by its owner.
	if b, err := os.ReadFile(data); err != nil || string(b) != "the first owner's bytes" {
		t.Errorf("data after the intruder's deletion: %q, %v", b, err)
	}
	stats, err := p.node.NodeGetVolumeStats(c, &csi.NodeGetVolumeStatsRequest{VolumeId: id, VolumePath: target})
	if err != nil || stats.GetVolumeCondition().GetAbnormal() {
		t.Errorf("stats of the live volume after the intruder's deletion: %v, %v", stats, err)
	}
	if _, err := p.ctl.ControllerExpandVolume(c, &csi.ControllerExpandVolumeRequest{VolumeId: id, CapacityRange: &csi.CapacityRange{RequiredBytes: 64 * mib}, VolumeCapability: mountCap(fs)}); err != nil {
		t.Errorf("the owner's expansion after the intruder's deletion: %v", err)
	}
	if _, err := p.node.NodeUnpublishVolume(c, &csi.NodeUnpublishVolumeRequest{VolumeId: id, TargetPath: target}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.ctl.DeleteVolume(c, &csi.DeleteVolumeRequest{VolumeId: id}); err != nil {
		t.Fatal(err)
	}
	p.lvGone(t, id)
}

// An object the node refuses as invalid (a name no volume can have) can
// still be deleted: its finalizer goes, with an Event saying nothing was
// removed. Before, the removal was refused forever and the object stayed.
func TestIntegrationInvalidObjectCanBeDeleted(t *testing.T) {
	p, _ := btrfsRig(t)
	c := testutil.Context(t)
	bad := &v1.LogicalVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "bad-name", Finalizers: []string{v1.Finalizer(p.d.Name)}},
		Spec:       v1.LogicalVolumeSpec{DriverName: p.d.Name, Name: "../escape", NodeName: nodeName, Size: resource.MustParse("16Mi")},
	}
	if err := p.c.Create(c, bad); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the node to refuse the name", func() bool {
		return p.c.Get(c, client.ObjectKey{Name: bad.Name}, bad) == nil && bad.Status.Code != ""
	})
	if bad.Status.Code != "InvalidArgument" {
		t.Errorf("status = %+v, want InvalidArgument", bad.Status)
	}
	if err := p.c.Delete(c, bad); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the invalid object to go", func() bool {
		err := p.c.Get(c, client.ObjectKey{Name: bad.Name}, bad)
		return err != nil && client.IgnoreNotFound(err) == nil
	})
	wantEvent(t, p, bad.Name, controller.ReasonNothingRemoved)
}

// onBothDrivers runs f on a fresh LVM rig (ext4 volumes) and a fresh btrfs
// rig, each as a subtest.
func onBothDrivers(t *testing.T, f func(t *testing.T, p *plugins, fs string)) {
	t.Run("lvm", func(t *testing.T) {
		p, _, _ := lvmRig(t)
		f(t, p, "ext4")
	})
	t.Run("btrfs", func(t *testing.T) {
		p, _ := btrfsRig(t)
		f(t, p, "")
	})
}

// newVolume creates a filesystem volume of size through CreateVolume and
// returns its ID.
func (p *plugins) newVolume(t *testing.T, name, fs string, size int64) string {
	t.Helper()
	vol, err := p.ctl.CreateVolume(testutil.Context(t), &csi.CreateVolumeRequest{
		Name: name, VolumeCapabilities: []*csi.VolumeCapability{mountCap(fs)},
		CapacityRange: &csi.CapacityRange{RequiredBytes: size}, AccessibilityRequirements: p.topology(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return vol.Volume.VolumeId
}

// wantEvent waits for an Event of reason about the LogicalVolume name.
func wantEvent(t *testing.T, p *plugins, name, reason string) {
	t.Helper()
	testutil.Eventually(t, "event "+reason+" on "+name, func() bool {
		var evs eventsv1.EventList
		if err := p.c.List(context.Background(), &evs); err != nil {
			return false
		}
		for _, e := range evs.Items {
			if e.Regarding.Name == name && e.Reason == reason && e.Note != "" {
				t.Logf("event %s: %s", e.Reason, e.Note)
				return true
			}
		}
		return false
	})
}
