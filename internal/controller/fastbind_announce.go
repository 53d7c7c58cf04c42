package controller

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// reconcileClaim announces this driver as the provisioner of a claim that
// needs a new volume: the annotation csi-provisioner waits for, written by
// kube-controller-manager's claim worker otherwise. A deleted claim goes to
// unprotectClaim.
func (f *FastBinding) reconcileClaim(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	claim := &corev1.PersistentVolumeClaim{}
	if err := f.Client.Get(ctx, req.NamespacedName, claim); err != nil {
		if apierrors.IsNotFound(err) {
			f.held.forget(req.NamespacedName)
		}
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !claim.DeletionTimestamp.IsZero() {
		return f.unprotectClaim(ctx, claim)
	}
	if ok, err := f.needsAnnouncing(ctx, claim); err != nil || !ok {
		return reconcile.Result{}, err
	}
	if claim.Annotations == nil {
		claim.Annotations = map[string]string{}
	}
	// Both keys, as kube-controller-manager writes them.
	claim.Annotations[annStorageProvisioner] = f.Driver.Name
	claim.Annotations[annBetaStorageProvisioner] = f.Driver.Name
	if err := f.Client.Update(ctx, claim); err != nil {
		return settle(err)
	}
	f.count("announce")
	return reconcile.Result{}, nil
}

// needsAnnouncing: the claim is this driver's to provision now, and
// kube-controller-manager would announce it. It would when the claim is
// unbound, names a StorageClass of this driver (no default class to
// assign), has no selector, is not waiting for the scheduler, and no
// existing volume could be bound to it instead.
func (f *FastBinding) needsAnnouncing(ctx context.Context, claim *corev1.PersistentVolumeClaim) (bool, error) {
	if claim.Spec.VolumeName != "" || claim.Spec.Selector != nil ||
		claim.Spec.StorageClassName == nil || *claim.Spec.StorageClassName == "" {
		return false, nil
	}
	if _, ok := claim.Annotations[annStorageProvisioner]; ok {
		return false, nil
	}
	if _, ok := claim.Annotations[annBetaStorageProvisioner]; ok {
		return false, nil
	}
	class := &storagev1.StorageClass{}
	if err := f.Client.Get(ctx, client.ObjectKey{Name: *claim.Spec.StorageClassName}, class); err != nil {
		return false, client.IgnoreNotFound(err)
	}
	if class.Provisioner != f.Driver.Name {
		return false, nil
	}
	if m := class.VolumeBindingMode; m != nil && *m == storagev1.VolumeBindingWaitForFirstConsumer && claim.Annotations[annSelectedNode] == "" {
		return false, nil
	}
	return f.noVolumeCouldMatch(ctx, claim)
}

// noVolumeCouldMatch: no volume of the claim's class is free or reserved
// for it, so kube-controller-manager would provision rather than bind. The
// test is wider than its matching (any such volume counts, whatever its
// size or access modes): when in doubt, leave the claim to it.
func (f *FastBinding) noVolumeCouldMatch(ctx context.Context, claim *corev1.PersistentVolumeClaim) (bool, error) {
	var pvs corev1.PersistentVolumeList
	if err := f.Client.List(ctx, &pvs, client.MatchingFields{indexPVClass: *claim.Spec.StorageClassName}); err != nil {
		return false, err
	}
	for _, pv := range pvs.Items {
		ref := pv.Spec.ClaimRef
		if ref == nil && pv.Status.Phase != corev1.VolumeReleased && pv.Status.Phase != corev1.VolumeFailed {
			return false, nil
		}
		if ref != nil && ref.Namespace == claim.Namespace && ref.Name == claim.Name && (ref.UID == "" || ref.UID == claim.UID) {
			return false, nil
		}
	}
	return true, nil
}
