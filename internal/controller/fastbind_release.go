package controller

import (
	"context"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// release marks a volume whose claim is gone Released, which is what
// csi-provisioner waits for to delete it (reclaim policy Delete) or what
// keeps it (Retain). The cache may not have seen the claim yet, so the API
// server must say it is gone too, as kube-controller-manager asks it.
func (f *FastBinding) release(ctx context.Context, pv *corev1.PersistentVolume) (reconcile.Result, error) {
	if pv.Status.Phase == corev1.VolumeReleased || pv.Status.Phase == corev1.VolumeFailed {
		return reconcile.Result{}, nil
	}
	ref := pv.Spec.ClaimRef
	claim := &corev1.PersistentVolumeClaim{}
	err := f.APIReader.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, claim)
	switch {
	case err == nil && claim.UID == ref.UID:
		return reconcile.Result{}, nil // the cache is behind: the claim's event will come
	case err != nil && !apierrors.IsNotFound(err):
		return reconcile.Result{}, err
	}
	pv.Status.Phase, pv.Status.Message = corev1.VolumeReleased, ""
	if err := f.Client.Status().Update(ctx, pv); err != nil {
		return settle(err)
	}
	f.count("release")
	return reconcile.Result{}, nil
}

// unprotectVolume lets a deleted volume go once no claim holds it, as
// kube-controller-manager's PV protection controller does: it removes its
// finalizer from volumes that are not Bound (the caller checked).
func (f *FastBinding) unprotectVolume(ctx context.Context, pv *corev1.PersistentVolume) (reconcile.Result, error) {
	return f.dropFinalizer(ctx, pv, pvProtectionFinalizer, "unprotect-volume")
}

// unprotectClaim lets a deleted claim of this driver go once no pod refers
// to it, as kube-controller-manager's PVC protection controller does. Its
// test is narrower: any pod of the namespace that names the claim, in any
// phase, scheduled or not, holds it. The pods are read from the API server
// after the deletion (or a pod's going) was seen, so none that could use the
// claim is missed; a pod made later cannot start with it (kubelet and
// kube-scheduler refuse claims being deleted). A held claim is let go when
// the last of the pods that held it is deleted (heldClaims).
func (f *FastBinding) unprotectClaim(ctx context.Context, claim *corev1.PersistentVolumeClaim) (reconcile.Result, error) {
	if !slices.Contains(claim.Finalizers, pvcProtectionFinalizer) || claim.Annotations[annStorageProvisioner] != f.Driver.Name {
		f.held.forget(client.ObjectKeyFromObject(claim))
		return reconcile.Result{}, nil
	}
	if f.held.freed(claim) {
		return f.dropFinalizer(ctx, claim, pvcProtectionFinalizer, "unprotect-claim")
	}
	pods, err := f.pods.list(ctx, claim.Namespace)
	if err != nil {
		return reconcile.Result{}, err
	}
	var holders []string
	for i := range pods {
		if podNamesClaim(&pods[i], claim.Name) {
			holders = append(holders, pods[i].Name)
		}
	}
	if len(holders) > 0 {
		f.held.hold(claim, holders)
		return reconcile.Result{}, nil
	}
	return f.dropFinalizer(ctx, claim, pvcProtectionFinalizer, "unprotect-claim")
}

// dropFinalizer removes a protection finalizer with an update of the version
// read, and counts the step.
func (f *FastBinding) dropFinalizer(ctx context.Context, o client.Object, finalizer, step string) (reconcile.Result, error) {
	if !controllerutil.RemoveFinalizer(o, finalizer) {
		return reconcile.Result{}, nil
	}
	if err := f.Client.Update(ctx, o); err != nil {
		return settle(err)
	}
	f.count(step)
	return reconcile.Result{}, nil
}
