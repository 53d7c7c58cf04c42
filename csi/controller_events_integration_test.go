//go:build integration

package csi_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	topocsi "github.com/toposuite/toposuite/csi"
	v1 "github.com/toposuite/toposuite/internal/api/topolvm/v1"
	"github.com/toposuite/toposuite/internal/testutil"
)

// The Events a claim's user reads (kubectl describe pvc) when its volume
// cannot be made or grown, recorded by the real controller plugin on real
// claims of a real API server, over lvmd with a 3 GiB volume group: no
// room for the claim, a device class no node has, the chosen node deleted,
// no room to grow, the volume's node deleted; a repeated failure makes no
// second Event.
func TestIntegrationControllerClaimEvents(t *testing.T) {
	p, _, _ := lvmRig(t)
	ctx := testutil.Context(t)
	const ns = "apps"
	if err := p.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	claim := func(name string) *corev1.PersistentVolumeClaim {
		t.Helper()
		pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}
		if err := p.c.Create(ctx, pvc); err != nil {
			t.Fatal(err)
		}
		return pvc
	}
	// create is csi-provisioner's call for the claim (--extra-create-metadata).
	create := func(pvc *corev1.PersistentVolumeClaim, size int64, params map[string]string, topo *csi.TopologyRequirement) (*csi.CreateVolumeResponse, error) {
		all := map[string]string{"csi.storage.k8s.io/pvc/name": pvc.Name, "csi.storage.k8s.io/pvc/namespace": pvc.Namespace,
			"csi.storage.k8s.io/pv/name": "pvc-" + string(pvc.UID)}
		for k, v := range params {
			all[k] = v
		}
		return p.ctl.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: "pvc-" + string(pvc.UID), Parameters: all,
			VolumeCapabilities: []*csi.VolumeCapability{blockCap()}, CapacityRange: &csi.CapacityRange{RequiredBytes: size},
			AccessibilityRequirements: topo})
	}
	events := func(pvc *corev1.PersistentVolumeClaim, reason string) []eventsv1.Event {
		var list eventsv1.EventList
		if err := p.c.List(ctx, &list, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		var out []eventsv1.Event
		for _, e := range list.Items {
			if e.Regarding.UID == pvc.UID && e.Reason == reason {
				out = append(out, e)
			}
		}
		return out
	}
	// wantEvent waits for the claim's Event and checks what a person reads.
	wantEvent := func(pvc *corev1.PersistentVolumeClaim, reason, action string, says ...string) {
		t.Helper()
		testutil.Eventually(t, reason+" Event on claim "+pvc.Name, func() bool { return len(events(pvc, reason)) > 0 })
		e := events(pvc, reason)[0]
		if e.Type != corev1.EventTypeWarning || e.Action != action || e.Regarding.Kind != "PersistentVolumeClaim" ||
			e.Regarding.Name != pvc.Name || e.ReportingController != p.d.Name+"-controller" {
			t.Errorf("%s Event: type %s, action %s, regarding %+v, reported by %s", reason, e.Type, e.Action, e.Regarding, e.ReportingController)
		}
		for _, s := range says {
			if !strings.Contains(e.Note, s) {
				t.Errorf("%s Event says %q, want it to say %q", reason, e.Note, s)
			}
		}
	}

	// bind makes the PersistentVolume of volume id, bound to the claim, as
	// csi-provisioner and kube-controller-manager would.
	bind := func(pvc *corev1.PersistentVolumeClaim, id string) {
		t.Helper()
		pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pvc-" + string(pvc.UID)}, Spec: corev1.PersistentVolumeSpec{
			Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("64Mi")},
			AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			ClaimRef:               &corev1.ObjectReference{Namespace: ns, Name: pvc.Name, UID: pvc.UID},
			PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: p.d.Name, VolumeHandle: id}}}}
		if err := p.c.Create(ctx, pv); err != nil {
			t.Fatal(err)
		}
	}

	big := claim("big")
	_, err := create(big, 10<<30, nil, p.topology())
	testutil.WantCode(t, err, codes.ResourceExhausted, "a volume larger than the volume group")
	wantEvent(big, topocsi.ReasonNotEnoughCapacity, "CreateVolume", "has 10737418240 bytes available", "Free space on a node")

	bad := claim("bad-class")
	_, err = create(bad, 64*mib, map[string]string{p.d.Param(topocsi.ParamDeviceClass): "nvme"}, p.topology())
	testutil.WantCode(t, err, codes.InvalidArgument, "a device class no node has")
	wantEvent(bad, topocsi.ReasonInvalidParameter, "CreateVolume", `device class "nvme" is not configured on any node`, "Fix the StorageClass")

	lost := claim("lost")
	gone := &csi.TopologyRequirement{Preferred: []*csi.Topology{{Segments: map[string]string{p.d.TopologyKey: "node-deleted"}}}}
	_, err = create(lost, 64*mib, nil, gone)
	testutil.WantCode(t, err, codes.ResourceExhausted, "a node that does not exist")
	wantEvent(lost, topocsi.ReasonNodeGone, "CreateVolume", "Node node-deleted, chosen for this volume, no longer exists", "delete it")

	// A volume made and bound, then grown past the volume group.
	grow := claim("grow")
	vol, err := create(grow, 64*mib, nil, p.topology())
	if err != nil {
		t.Fatal(err)
	}
	id := vol.Volume.VolumeId
	t.Cleanup(func() { _, _ = p.ctl.DeleteVolume(testutil.Context(t), &csi.DeleteVolumeRequest{VolumeId: id}) })
	bind(grow, id)
	_, err = p.ctl.ControllerExpandVolume(ctx, &csi.ControllerExpandVolumeRequest{VolumeId: id,
		CapacityRange: &csi.CapacityRange{RequiredBytes: 10 << 30}, VolumeCapability: blockCap()})
	testutil.WantCode(t, err, codes.OutOfRange, "growing past the volume group")
	wantEvent(grow, topocsi.ReasonNotEnoughCapacity, "ExpandVolume", "Node "+nodeName+" has no room to grow the volume", "set the claim's request back")

	// A volume whose node was deleted: the node never answers the growth,
	// the call runs out of time, and the claim is told why.
	far := claim("far")
	lv := &v1.LogicalVolume{ObjectMeta: metav1.ObjectMeta{Name: "pvc-" + string(far.UID)}, Spec: v1.LogicalVolumeSpec{
		DriverName: p.d.Name, Name: "pvc-" + string(far.UID), NodeName: "node-deleted", DeviceClass: "ssd", Size: resource.MustParse("64Mi")}}
	if err := p.c.Create(ctx, lv); err != nil {
		t.Fatal(err)
	}
	bind(far, lv.Name)
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err = p.ctl.ControllerExpandVolume(short, &csi.ControllerExpandVolumeRequest{VolumeId: lv.Name,
		CapacityRange: &csi.CapacityRange{RequiredBytes: 128 * mib}, VolumeCapability: blockCap()})
	testutil.WantCode(t, err, codes.DeadlineExceeded, "growing a volume whose node is gone")
	wantEvent(far, topocsi.ReasonNodeGone, "ExpandVolume", "The volume is on node node-deleted, which no longer exists", "Restore its data")

	// The provisioner retries: the same failure again is folded into the
	// first Event (a series), not a new one. A different failure recorded
	// after it shows the recorder has handled the retry.
	_, err = create(big, 10<<30, nil, p.topology())
	testutil.WantCode(t, err, codes.ResourceExhausted, "the retry")
	_, err = create(big, 64*mib, map[string]string{p.d.Param(topocsi.ParamDeviceClass): "nvme"}, p.topology())
	testutil.WantCode(t, err, codes.InvalidArgument, "the claim's class changed")
	wantEvent(big, topocsi.ReasonInvalidParameter, "CreateVolume")
	if n := len(events(big, topocsi.ReasonNotEnoughCapacity)); n != 1 {
		t.Errorf("%d NotEnoughCapacity Events on claim big after a retry, want 1 (a series)", n)
	}
}
