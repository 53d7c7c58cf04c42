package bench

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestVolumeNames(t *testing.T) {
	lvs := "  pvc-1a2b\n  other\n  pvc-3c4d\n"
	subvols := "ID 256 gen 9 top level 5 path pvc-5e6f\nID 257 gen 9 top level 5 path snap\n"
	if diff := cmp.Diff([]string{"pvc-1a2b", "pvc-3c4d"}, volumeNames(lvs)); diff != "" {
		t.Error(diff)
	}
	if diff := cmp.Diff([]string{"pvc-5e6f"}, volumeNames(subvols)); diff != "" {
		t.Error(diff)
	}
}

func TestVolumeCreatedDurations(t *testing.T) {
	since := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	logs := `{"time":"2026-11-21T09:59:59.5Z","level":"INFO","msg":"volume created","durationMs":99}
{"time":"2026-11-21T10:00:01.25Z","level":"INFO","msg":"volume created","sizeBytes":1073741824,"durationMs":12}
{"time":"2026-11-21T10:00:01.5Z","level":"INFO","msg":"volume removed"}
not json "volume created"
{"time":"2026-11-21T10:00:02Z","level":"INFO","msg":"volume created","durationMs":7.5}`
	want := []time.Duration{12 * time.Millisecond, 7500 * time.Microsecond}
	if diff := cmp.Diff(want, volumeCreatedDurations(logs, since)); diff != "" {
		t.Error(diff)
	}
}

// at is msec milliseconds into a test's timeline.
func at(msec int) time.Time { return time.Unix(1000, 0).Add(time.Duration(msec) * time.Millisecond) }

// hopsOf is the breakdown of one PVC's marks, by hop.
func hopsOf(m Marks) map[string]time.Duration {
	got := map[string]time.Duration{}
	for _, h := range Breakdown([]Marks{m}) {
		got[h.What] = h.Took.P50
	}
	return got
}

func TestBreakdownHops(t *testing.T) {
	m := Marks{Created: at(0), Answered: at(3), Provisioner: at(10), LVCreated: at(40), LVReady: at(60), PVCreated: at(70), Bound: at(100),
		Deleted: at(200), PVCGone: at(204), PVReleased: at(210), LVDeleting: at(215), LVGone: at(230), PVGone: at(250)}
	got := hopsOf(m)
	want := map[string]time.Duration{
		"kube-apiserver: create request answered":                                           3 * time.Millisecond,
		"fast binding or kube-controller-manager: PVC annotated for the provisioner":        7 * time.Millisecond,
		"csi-provisioner -> CreateVolume -> controller: LogicalVolume made":                 30 * time.Millisecond,
		"node plugin + daemon: volume made, status.volumeID set":                            20 * time.Millisecond,
		"controller answers, csi-provisioner makes the PV":                                  10 * time.Millisecond,
		"fast binding or kube-controller-manager: PVC Bound to the PV":                      30 * time.Millisecond,
		"deletion: fast binding or kube-controller-manager's PVC protection: PVC gone":      4 * time.Millisecond,
		"deletion: fast binding or kube-controller-manager: PV Released":                    6 * time.Millisecond,
		"deletion: csi-provisioner -> DeleteVolume -> controller deletes the LogicalVolume": 5 * time.Millisecond,
		"deletion: node plugin + daemon: volume removed, LogicalVolume gone":                15 * time.Millisecond,
		"deletion: csi-provisioner deletes the PV":                                          35 * time.Millisecond,
		"deletion: delete request -> PV gone (whole)":                                       50 * time.Millisecond,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("hops (no node selection: Immediate) (-want +got):\n%s", diff)
	}
}

// The floor makes no LogicalVolume: its hops go straight from the
// provisioner's turn to the PV, and none of the drivers' LogicalVolume
// hops show.
func TestBreakdownHopsOfTheFloor(t *testing.T) {
	m := Marks{Created: at(0), Answered: at(3), Provisioner: at(10), PVCreated: at(25), Bound: at(40),
		Deleted: at(200), PVCGone: at(204), PVReleased: at(210), PVGone: at(230)}
	got := hopsOf(m)
	want := map[string]time.Duration{
		"kube-apiserver: create request answered":                                              3 * time.Millisecond,
		"fast binding or kube-controller-manager: PVC annotated for the provisioner":           7 * time.Millisecond,
		"csi-provisioner -> CreateVolume: PV made (a driver without LogicalVolumes)":           15 * time.Millisecond,
		"fast binding or kube-controller-manager: PVC Bound to the PV":                         15 * time.Millisecond,
		"deletion: fast binding or kube-controller-manager's PVC protection: PVC gone":         4 * time.Millisecond,
		"deletion: fast binding or kube-controller-manager: PV Released":                       6 * time.Millisecond,
		"deletion: csi-provisioner -> DeleteVolume: PV gone (a driver without LogicalVolumes)": 20 * time.Millisecond,
		"deletion: delete request -> PV gone (whole)":                                          30 * time.Millisecond,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("hops (-want +got):\n%s", diff)
	}
}

func TestDriverGone(t *testing.T) {
	pv, lv := time.Unix(10, 0), time.Unix(12, 0)
	m := Marks{PVGone: pv}
	if got := Drivers[0].gone(m); !got.IsZero() {
		t.Errorf("a driver's volume is gone with its PV while its LogicalVolume stays: %v", got)
	}
	if got := Floor.gone(m); !got.Equal(pv) {
		t.Errorf("the floor's volume is gone with its PV: got %v", got)
	}
	m.LVGone = lv
	if got := Drivers[0].gone(m); !got.Equal(lv) {
		t.Errorf("gone = %v, want the later of PV and LogicalVolume, %v", got, lv)
	}
}
