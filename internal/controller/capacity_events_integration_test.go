//go:build integration

package controller_test

import (
	"context"
	"strings"
	"testing"

	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/toposuite/toposuite/csi"
	"github.com/toposuite/toposuite/internal/controller"
	"github.com/toposuite/toposuite/internal/daemon"
	"github.com/toposuite/toposuite/internal/testutil"
	"github.com/toposuite/toposuite/lvmd"
	lvmconfig "github.com/toposuite/toposuite/lvmd/config"
)

// The Events the node plugin records on its Node about the storage behind
// a device class, with a real lvmd over a real volume group and a real API
// server: an LV made outside lvmd that leaves under 10% of the VG gives
// StorageAlmostFull, its removal StorageRecovered; the VG renamed away
// (as a lost disk takes it) gives StorageMissing, and back, StorageRecovered.
// Each state change gives one Event, not one per capacity read.
func TestIntegrationNodeCapacityEvents(t *testing.T) {
	env, vg, start := lvmdOnLoop(t, "alertvg")
	const node = "node-1"
	d := csi.LVMDriver("topolvm.io")
	rest, c := testutil.APIServer(t)
	testutil.Node(t, c, node)
	runNodePlugin(t, rest, d, node, start)
	ctx := testutil.Context(t)
	var no corev1.Node
	testutil.Eventually(t, "the capacity annotations", func() bool {
		return c.Get(ctx, client.ObjectKey{Name: node}, &no) == nil && no.Annotations[d.CapacityAnnotation("")] != ""
	})
	// Node Events go to the default namespace (the Node has none).
	events := func(reason string) []eventsv1.Event {
		var list eventsv1.EventList
		if err := c.List(ctx, &list, client.InNamespace("default")); err != nil {
			t.Fatal(err)
		}
		var out []eventsv1.Event
		for _, e := range list.Items {
			if e.Regarding.UID == no.UID && e.Reason == reason {
				out = append(out, e)
			}
		}
		return out
	}
	// want waits for the n-th Event of reason and checks what a person reads.
	want := func(reason string, n int, typ string, says ...string) {
		t.Helper()
		testutil.Eventually(t, reason+" Event on the Node", func() bool { return len(events(reason)) >= n })
		if got := len(events(reason)); got != n {
			t.Errorf("%d %s Events, want %d (one per change of state)", got, reason, n)
		}
		e := events(reason)[n-1]
		if e.Type != typ || e.Regarding.Kind != "Node" || e.Regarding.Name != node || e.ReportingController != d.Name+"-node" {
			t.Errorf("%s Event: type %s, regarding %+v, reported by %s", reason, e.Type, e.Regarding, e.ReportingController)
		}
		for _, s := range says {
			if !strings.Contains(e.Note, s) {
				t.Errorf("%s Event says %q, want it to say %q", reason, e.Note, s)
			}
		}
	}

	// 95%, then 98% of the VG taken outside lvmd: still almost full after
	// the second step, so no second Event.
	env.LVM(t, "lvcreate", "-y", "-n", "outside", "-l", "95%VG", vg)
	want(controller.ReasonStorageAlmostFull, 1, corev1.EventTypeWarning, `Device class "ssd" is almost full`, "alert under 10%", "add a disk to the class")
	free := func() string {
		var n corev1.Node
		if err := c.Get(ctx, client.ObjectKey{Name: node}, &n); err != nil {
			t.Fatal(err)
		}
		return n.Annotations[d.CapacityAnnotation("")]
	}
	before := free()
	env.LVM(t, "lvextend", "-l", "98%VG", vg+"/outside")
	testutil.Eventually(t, "the Node to show the smaller room", func() bool { return free() != before })
	env.LVM(t, "lvremove", "-y", vg+"/outside")
	want(controller.ReasonStorageRecovered, 1, corev1.EventTypeNormal, `Device class "ssd" is well again (was StorageAlmostFull)`)
	want(controller.ReasonStorageAlmostFull, 1, corev1.EventTypeWarning)

	moved := vg + "x"
	env.LVM(t, "vgrename", vg, moved)
	renamed := true
	t.Cleanup(func() {
		if renamed {
			_, _ = testutil.RunErr(env.Env, "lvm", "vgrename", moved, vg) // so that the VG's clean-up finds it
		}
	})
	want(controller.ReasonStorageMissing, 1, corev1.EventTypeWarning, `Device class "ssd" has no storage`, "Check the node's disks")
	env.LVM(t, "vgrename", moved, vg)
	renamed = false
	want(controller.ReasonStorageRecovered, 2, corev1.EventTypeNormal, "(was StorageMissing)")
}

// lvmdOnLoop makes a 1 GiB volume group (named from prefix) on a loop
// device and returns its LVM environment, its name and the start of an
// lvmd with one default class "ssd" on it, without spare space. LVM's own
// activation: in this machine's metadata-only mode the LVs have no device,
// which the callers do not need.
func lvmdOnLoop(t *testing.T, prefix string) (*testutil.LVMEnv, string, func(context.Context) (*daemon.Instance, error)) {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireTools(t, "lvm")
	dev := testutil.LoopDevice(t, testutil.Dir(t), 1<<30)
	env := testutil.NewLVMEnv(t, dev)
	vg := testutil.UniqueName(prefix)
	env.VG(t, vg, dev)
	zero := resource.MustParse("0")
	cfg := &lvmconfig.Config{
		LVM:           lvmconfig.LVMSettings{Path: "lvm", Env: env.EnvMap()},
		Activation:    lvmconfig.ActivationLVM,
		DeviceClasses: []lvmconfig.DeviceClass{{Name: "ssd", VolumeGroup: vg, Default: true, Spare: &zero}},
	}
	cfg.Default()
	return env, vg, func(ctx context.Context) (*daemon.Instance, error) {
		return lvmd.Start(ctx, cfg, testr.NewWithInterface(t, testr.Options{}).WithName("lvmd"))
	}
}
