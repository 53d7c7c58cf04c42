package controller

import (
	"context"
	"fmt"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crcontroller "sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/toposuite/toposuite/csi"
	v1 "github.com/toposuite/toposuite/internal/api/topolvm/v1"
)

// NodeCleanup puts a finalizer on every node that runs the driver, and when
// such a node is deleted, deletes what lived on it: its LogicalVolumes (their
// node plugin is gone, so their finalizers are dropped here) and, with
// DeleteClaims, the PVCs bound to this driver's volumes there, so that
// StatefulSets can start over on another node.
type NodeCleanup struct {
	Client client.Client
	Driver csi.Driver
	// DeleteClaims also deletes the claims bound to the deleted node's
	// volumes. It is off by default because it needs the right to delete
	// any claim in the cluster; off, the claims stay, bound to volumes that
	// are gone, for their owners to delete.
	DeleteClaims bool
	Log          logr.Logger
}

// +kubebuilder:rbac:groups="",resources=nodes,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups="",resources=persistentvolumes,verbs=get;list;watch
// With DeleteClaims only:
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=delete
// +kubebuilder:rbac:groups=topolvm.io,resources=logicalvolumes,verbs=get;list;watch;update;patch;delete

// Finalizer is the finalizer this controller puts on Nodes.
func (r *NodeCleanup) Finalizer() string { return r.Driver.Name + "/node" }

// SetupWithManager registers the controller.
func (r *NodeCleanup) SetupWithManager(mgr ctrl.Manager) error {
	skip := true
	return ctrl.NewControllerManagedBy(mgr).Named("node-cleanup-" + r.Driver.Name).
		WithOptions(crcontroller.Options{SkipNameValidation: &skip}).
		For(&corev1.Node{}).Complete(r)
}

// Reconcile implements reconcile.Reconciler.
func (r *NodeCleanup) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	node := &corev1.Node{}
	if err := r.Client.Get(ctx, req.NamespacedName, node); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	_, runsDriver := node.Annotations[r.Driver.CapacityAnnotation("")]
	if node.DeletionTimestamp.IsZero() {
		if runsDriver && !controllerutil.ContainsFinalizer(node, r.Finalizer()) {
			patch := client.MergeFrom(node.DeepCopy())
			controllerutil.AddFinalizer(node, r.Finalizer())
			return reconcile.Result{}, r.Client.Patch(ctx, node, patch)
		}
		return reconcile.Result{}, nil
	}
	if !controllerutil.ContainsFinalizer(node, r.Finalizer()) {
		return reconcile.Result{}, nil
	}
	log := r.Log.WithValues("node", node.Name)
	if err := r.cleanup(ctx, log, node.Name); err != nil {
		return reconcile.Result{}, err
	}
	patch := client.MergeFrom(node.DeepCopy())
	controllerutil.RemoveFinalizer(node, r.Finalizer())
	return reconcile.Result{}, client.IgnoreNotFound(r.Client.Patch(ctx, node, patch))
}

func (r *NodeCleanup) cleanup(ctx context.Context, log logr.Logger, node string) error {
	var pvs corev1.PersistentVolumeList
	if err := r.Client.List(ctx, &pvs); err != nil {
		return err
	}
	var lvs v1.LogicalVolumeList
	if err := r.Client.List(ctx, &lvs); err != nil {
		return err
	}
	onNode := map[string]bool{}
	for i := range lvs.Items {
		lv := &lvs.Items[i]
		if lv.Spec.DriverName != r.Driver.Name || lv.Spec.NodeName != node {
			continue
		}
		onNode[lv.Name] = true
		patch := client.MergeFrom(lv.DeepCopy())
		lv.Finalizers = nil // the node plugin that owned them is gone
		if err := r.Client.Patch(ctx, lv, patch); client.IgnoreNotFound(err) != nil {
			return err
		}
		if err := r.Client.Delete(ctx, lv); client.IgnoreNotFound(err) != nil {
			return err
		}
		log.Info("deleted LogicalVolume of a deleted node", "logicalVolume", lv.Name)
	}
	for _, pv := range pvs.Items {
		c := pv.Spec.CSI
		ref := pv.Spec.ClaimRef
		if c == nil || c.Driver != r.Driver.Name || !onNode[c.VolumeHandle] || ref == nil {
			continue
		}
		if !r.DeleteClaims {
			log.Info("PVC bound to a deleted node left in place; delete it to start over elsewhere",
				"pvc", ref.Namespace+"/"+ref.Name, "persistentVolume", pv.Name)
			continue
		}
		pvc := &corev1.PersistentVolumeClaim{}
		pvc.Namespace, pvc.Name = ref.Namespace, ref.Name
		if err := r.Client.Delete(ctx, pvc, client.Preconditions{UID: &ref.UID}); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("delete PVC %s/%s: %w", ref.Namespace, ref.Name, err)
		}
		log.Info("deleted PVC bound to a deleted node", "pvc", ref.Namespace+"/"+ref.Name)
	}
	return nil
}
