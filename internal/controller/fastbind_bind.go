package controller

import (
	"context"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// reconcileVolume takes a volume this driver provisioned one step on: bound
// to its claim, released when the claim is gone, or let go once deleted
// and unbound.
func (f *FastBinding) reconcileVolume(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	pv := &corev1.PersistentVolume{}
	if err := f.Client.Get(ctx, req.NamespacedName, pv); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !f.provisioned(pv) {
		return reconcile.Result{}, nil
	}
	if !pv.DeletionTimestamp.IsZero() && pv.Status.Phase != corev1.VolumeBound {
		return f.unprotectVolume(ctx, pv)
	}
	ref := pv.Spec.ClaimRef
	if ref == nil || ref.UID == "" {
		return reconcile.Result{}, nil
	}
	claim := &corev1.PersistentVolumeClaim{}
	err := f.Client.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, claim)
	if client.IgnoreNotFound(err) != nil {
		return reconcile.Result{}, err
	}
	if err != nil || claim.UID != ref.UID {
		return f.release(ctx, pv)
	}
	return f.bind(ctx, pv, claim)
}

// bind binds a claim to the volume made for it, in kube-controller-manager's
// order and with its writes: the volume's phase, the claim's volumeName and
// annotations, the claim's status.
func (f *FastBinding) bind(ctx context.Context, pv *corev1.PersistentVolume, claim *corev1.PersistentVolumeClaim) (reconcile.Result, error) {
	switch {
	case !claim.DeletionTimestamp.IsZero(),
		claim.Spec.VolumeName != "" && claim.Spec.VolumeName != pv.Name,
		pv.Status.Phase == corev1.VolumeReleased || pv.Status.Phase == corev1.VolumeFailed,
		!satisfies(pv, claim):
		// Not a plain binding: kube-controller-manager decides.
		return reconcile.Result{}, nil
	}
	if pv.Status.Phase == corev1.VolumeBound && claim.Status.Phase == corev1.ClaimBound && claim.Annotations[annBindCompleted] != "" {
		return reconcile.Result{}, nil
	}
	if pv.Status.Phase != corev1.VolumeBound {
		pv.Status.Phase, pv.Status.Message = corev1.VolumeBound, ""
		if err := f.Client.Status().Update(ctx, pv); err != nil {
			return settle(err)
		}
	}
	if claim.Spec.VolumeName != pv.Name || claim.Annotations[annBindCompleted] == "" {
		if claim.Annotations == nil {
			claim.Annotations = map[string]string{}
		}
		if claim.Spec.VolumeName != pv.Name {
			claim.Spec.VolumeName = pv.Name
			if _, ok := claim.Annotations[annBoundByController]; !ok {
				claim.Annotations[annBoundByController] = "yes"
			}
		}
		claim.Annotations[annBindCompleted] = "yes"
		if err := f.Client.Update(ctx, claim); err != nil {
			return settle(err)
		}
	}
	if claim.Status.Phase != corev1.ClaimBound {
		claim.Status.Phase = corev1.ClaimBound
		claim.Status.AccessModes = pv.Spec.AccessModes
		// The volume's size, as the claim becomes Bound (a resize in
		// progress keeps what it wrote: provisioned volumes have none).
		claim.Status.Capacity = pv.Spec.Capacity.DeepCopy()
		claim.Status.CurrentVolumeAttributesClassName = pv.Spec.VolumeAttributesClassName
		if err := f.Client.Status().Update(ctx, claim); err != nil {
			return settle(err)
		}
	}
	f.count("bind")
	return reconcile.Result{}, nil
}

// satisfies: the volume is what the claim asks for (class, mode, access
// modes, size, attributes class), the checks kube-controller-manager makes
// before it binds.
func satisfies(pv *corev1.PersistentVolume, claim *corev1.PersistentVolumeClaim) bool {
	class := ""
	if claim.Spec.StorageClassName != nil {
		class = *claim.Spec.StorageClassName
	}
	if pv.Spec.StorageClassName != class || volumeMode(pv.Spec.VolumeMode) != volumeMode(claim.Spec.VolumeMode) {
		return false
	}
	if vac := claim.Spec.VolumeAttributesClassName; vac != nil && (pv.Spec.VolumeAttributesClassName == nil || *pv.Spec.VolumeAttributesClassName != *vac) {
		return false
	}
	for _, m := range claim.Spec.AccessModes {
		if !slices.Contains(pv.Spec.AccessModes, m) {
			return false
		}
	}
	size, has := pv.Spec.Capacity[corev1.ResourceStorage]
	return has && size.Cmp(claim.Spec.Resources.Requests[corev1.ResourceStorage]) >= 0
}

func volumeMode(m *corev1.PersistentVolumeMode) corev1.PersistentVolumeMode {
	if m == nil {
		return corev1.PersistentVolumeFilesystem
	}
	return *m
}
