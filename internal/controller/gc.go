package controller

import (
	"context"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crcontroller "sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/toposuite/toposuite/csi"
	v1 "github.com/toposuite/toposuite/internal/api/topolvm/v1"
)

// LeakCollector deletes LogicalVolumes that no PersistentVolume refers to
// once they are older than Grace: volumes whose CreateVolume answer was lost
// (the provisioner gave up or restarted) and that nothing will ever delete.
// Snapshots are left alone: VolumeSnapshotContents, not PVs, hold them.
type LeakCollector struct {
	Client client.Client
	Driver csi.Driver
	Grace  time.Duration
	Log    logr.Logger
}

// SetupWithManager registers the collector.
func (r *LeakCollector) SetupWithManager(mgr ctrl.Manager) error {
	skip := true
	return ctrl.NewControllerManagedBy(mgr).Named("leak-collector-" + r.Driver.Name).
		WithOptions(crcontroller.Options{SkipNameValidation: &skip}).
		For(&v1.LogicalVolume{}).Complete(r)
}

// Reconcile implements reconcile.Reconciler: it looks at an object when it
// changes and again when its grace period ends.
func (r *LeakCollector) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	lv := &v1.LogicalVolume{}
	if err := r.Client.Get(ctx, req.NamespacedName, lv); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if lv.Spec.DriverName != r.Driver.Name || lv.Spec.AccessType == "ro" || !lv.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, nil
	}
	if age := time.Since(lv.CreationTimestamp.Time); age < r.Grace {
		return reconcile.Result{RequeueAfter: r.Grace - age}, nil
	}
	var pvs corev1.PersistentVolumeList
	if err := r.Client.List(ctx, &pvs); err != nil {
		return reconcile.Result{}, err
	}
	for _, pv := range pvs.Items {
		if c := pv.Spec.CSI; c != nil && c.Driver == r.Driver.Name && c.VolumeHandle == lv.Name {
			return reconcile.Result{}, nil
		}
	}
	r.Log.Info("deleting a LogicalVolume no PersistentVolume refers to", "logicalVolume", lv.Name, "age", time.Since(lv.CreationTimestamp.Time).Round(time.Second).String())
	return reconcile.Result{}, client.IgnoreNotFound(r.Client.Delete(ctx, lv))
}
