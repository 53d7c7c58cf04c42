package controller

import (
	"context"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/toposuite/toposuite/csi"
)

// ClaimEvents records the CSI controller's Warning Events on claims
// (csi.ClaimEvents). It reads claims and volumes straight from the API
// server: it runs only after a failed request, and a cache would cost a
// watch on every claim of the cluster for that.
type ClaimEvents struct {
	Reader   client.Reader // uncached (the manager's APIReader)
	Recorder events.EventRecorder
	Driver   csi.Driver
	Log      logr.Logger
}

// Warn implements csi.ClaimEvents. The recorder folds repeats of one
// reason on one claim into a series, so a retried failure costs one Event.
func (e *ClaimEvents) Warn(ctx context.Context, claim csi.Claim, reason, action, note string) {
	if claim.Name == "" {
		var ok bool
		if claim, ok = e.claimOf(ctx, claim.VolumeID); !ok {
			return
		}
	}
	var pvc corev1.PersistentVolumeClaim
	if err := e.Reader.Get(ctx, client.ObjectKey{Namespace: claim.Namespace, Name: claim.Name}, &pvc); err != nil {
		// The Event needs the claim's UID (kubectl describe matches on it).
		e.Log.V(1).Info("no Event: claim not readable", "claim", claim.Namespace+"/"+claim.Name, "reason", reason, "error", err)
		return
	}
	e.Recorder.Eventf(&pvc, nil, corev1.EventTypeWarning, reason, action, "%s", note)
}

// claimOf finds the claim a volume of this driver is bound to: its
// PersistentVolume is named after the volume by csi-provisioner, else it
// is found by its volume handle.
func (e *ClaimEvents) claimOf(ctx context.Context, volumeID string) (csi.Claim, bool) {
	ofVolume := func(pv *corev1.PersistentVolume) (csi.Claim, bool) {
		if pv.Spec.CSI == nil || pv.Spec.CSI.Driver != e.Driver.Name || pv.Spec.CSI.VolumeHandle != volumeID || pv.Spec.ClaimRef == nil {
			return csi.Claim{}, false
		}
		return csi.Claim{Namespace: pv.Spec.ClaimRef.Namespace, Name: pv.Spec.ClaimRef.Name, VolumeID: volumeID}, true
	}
	var pv corev1.PersistentVolume
	if err := e.Reader.Get(ctx, client.ObjectKey{Name: volumeID}, &pv); err == nil {
		if c, ok := ofVolume(&pv); ok {
			return c, true
		}
	}
	var pvs corev1.PersistentVolumeList
	if err := e.Reader.List(ctx, &pvs); err != nil {
		e.Log.V(1).Info("no Event: volumes not readable", "volume", volumeID, "error", err)
		return csi.Claim{}, false
	}
	for i := range pvs.Items {
		if c, ok := ofVolume(&pvs.Items[i]); ok {
			return c, true
		}
	}
	return csi.Claim{}, false
}
