//go:build integration

package csi_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	v1 "github.com/toposuite/toposuite/internal/api/topolvm/v1"
	"github.com/toposuite/toposuite/internal/controller"
	"github.com/toposuite/toposuite/internal/nodeplugin"
	"github.com/toposuite/toposuite/internal/testutil"
)

// A volume whose LogicalVolume went while the volume stayed (a process
// killed between making the volume and recording it, then the object
// deleted with its finalizer taken off by hand) is named by no object:
// nothing else would ever find it. The node plugin reports it (a metric and
// an Event on the Node) or, when asked, removes it. Volumes with objects
// are never touched.
func TestIntegrationOrphanVolumes(t *testing.T) {
	// Report runs first for each driver: the process's metrics registry
	// keeps the first orphan gauge registered per driver.
	for _, action := range []string{controller.OrphansReport, controller.OrphansRemove} {
		orphans := func(o *nodeplugin.Options) {
			o.Orphans, o.OrphanGrace, o.OrphanInterval = action, time.Second, 300*time.Millisecond
		}
		t.Run("lvm-"+action, func(t *testing.T) {
			p, env, vg := lvmRig(t, orphans)
			left := func(name string) bool {
				return slices.Contains(strings.Fields(env.LVM(t, "lvs", "--noheadings", "-o", "lv_name", vg)), name)
			}
			orphanCase(t, p, action, "ext4", left)
		})
		t.Run("btrfs-"+action, func(t *testing.T) {
			p, pool := btrfsRig(t, orphans)
			left := func(name string) bool { _, err := os.Stat(filepath.Join(pool, name)); return err == nil }
			orphanCase(t, p, action, "", left)
		})
	}
}

func orphanCase(t *testing.T, p *plugins, action, fs string, left func(name string) bool) {
	c := testutil.Context(t)
	kept, lost := p.newVolume(t, "pvc-kept", fs, 16*mib), p.newVolume(t, "pvc-lost", fs, 16*mib)
	var lv v1.LogicalVolume
	if err := p.c.Get(c, client.ObjectKey{Name: lost}, &lv); err != nil {
		t.Fatal(err)
	}
	lv.Finalizers = nil
	if err := p.c.Update(c, &lv); err != nil {
		t.Fatal(err)
	}
	if err := p.c.Delete(c, &lv); err != nil {
		t.Fatal(err)
	}
	p.lvGone(t, lost)

	switch action {
	case controller.OrphansReport:
		testutil.Eventually(t, "an OrphanVolume Event on the Node", func() bool {
			var evs eventsv1.EventList
			if err := p.c.List(context.Background(), &evs); err != nil {
				return false
			}
			for _, e := range evs.Items {
				if e.Regarding.Kind == "Node" && e.Regarding.Name == nodeName && e.Reason == controller.ReasonOrphanVolume {
					t.Logf("event: %s", e.Note)
					return true
				}
			}
			return false
		})
		if n := orphanGauge(t, p.d.Name); n != 1 {
			t.Errorf("toposuite_orphan_volumes = %v, want 1", n)
		}
		if !left(lost) {
			t.Error("the orphan was removed in report mode")
		}
	case controller.OrphansRemove:
		testutil.Eventually(t, "the orphan to be removed", func() bool { return !left(lost) })
	}
	if !left(kept) {
		t.Errorf("volume %s, which its LogicalVolume names, is gone", kept)
	}
	if _, err := p.ctl.DeleteVolume(c, &csi.DeleteVolumeRequest{VolumeId: kept}); err != nil {
		t.Fatal(err)
	}
	p.lvGone(t, kept)
}

// orphanGauge reads the node plugin's orphan gauge for a driver from the
// process's metrics registry (the plugin runs in this process).
func orphanGauge(t *testing.T, driver string) float64 {
	t.Helper()
	mfs, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != "toposuite_orphan_volumes" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "driver" && l.GetValue() == driver {
					sum += m.GetGauge().GetValue()
				}
			}
		}
	}
	return sum
}
