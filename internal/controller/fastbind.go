package controller

import (
	"context"
	"errors"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crcontroller "sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/toposuite/toposuite/csi"
)

// FastBinding takes this driver's claims and volumes through the steps that
// kube-controller-manager's PersistentVolume controllers would otherwise
// take one object at a time (each has a single worker): it announces the
// provisioner on a claim that needs a new volume, binds a claim to the
// volume csi-provisioner made for it, lets a deleted claim go when no pod
// refers to it, releases a volume whose claim is gone and lets a deleted,
// unbound volume go. It does exactly what those
// controllers do, with the same checks, on many objects at once; they still
// run, find the work done and write nothing. Anything it is not sure of
// (static volumes, selectors, claims bound elsewhere, other drivers) it
// leaves to them. See docs/csi.md, "Fast binding".
type FastBinding struct {
	// Client reads from the manager's cache and writes to the API server.
	Client client.Client
	// APIReader reads from the API server itself: a claim is released only
	// after the API server, not just the cache, says it is gone.
	APIReader client.Reader
	Driver    csi.Driver
	// Workers is how many objects of each kind are handled at once.
	Workers int
	// Steps counts the steps taken (nil: not counted).
	Steps *prometheus.CounterVec
	Log   logr.Logger

	pods *podLists
	held heldClaims
}

// FastBindingWorkers is how many claims and how many volumes fast binding
// handles at once in topolvm-controller: enough for a burst to be limited
// by the API server, not by this process.
const FastBindingWorkers = 64

// The annotations and finalizers of Kubernetes' volume controllers.
const (
	annStorageProvisioner     = "volume.kubernetes.io/storage-provisioner"
	annBetaStorageProvisioner = "volume.beta.kubernetes.io/storage-provisioner"
	annSelectedNode           = "volume.kubernetes.io/selected-node"
	annBindCompleted          = "pv.kubernetes.io/bind-completed"
	annBoundByController      = "pv.kubernetes.io/bound-by-controller"
	annProvisionedBy          = "pv.kubernetes.io/provisioned-by"
	pvProtectionFinalizer     = "kubernetes.io/pv-protection"
	pvcProtectionFinalizer    = "kubernetes.io/pvc-protection"
)

// Indexes of PersistentVolumes in the cache.
const (
	indexPVClaim = "toposuite.claimRef"              // namespace/name of spec.claimRef
	indexPVClass = "toposuite.spec.storageClassName" // spec.storageClassName
)

// NewFastBindingSteps returns the counter of fast binding steps, registered
// with reg.
func NewFastBindingSteps(reg prometheus.Registerer) (*prometheus.CounterVec, error) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "toposuite", Subsystem: "controller", Name: "fast_binding_steps_total",
		Help: "Steps of the volume controllers taken by fast binding: announce, bind, unprotect-claim, release, unprotect-volume.",
	}, []string{"driver", "step"})
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			return are.ExistingCollector.(*prometheus.CounterVec), nil
		}
		return nil, err
	}
	return c, nil
}

func (f *FastBinding) count(step string) {
	if f.Steps != nil {
		f.Steps.WithLabelValues(f.Driver.Name, step).Inc()
	}
}

// SetupWithManager registers the claim and the volume controllers.
func (f *FastBinding) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	f.pods = &podLists{reader: f.APIReader}
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &corev1.PersistentVolume{}, indexPVClaim, func(o client.Object) []string {
		if ref := o.(*corev1.PersistentVolume).Spec.ClaimRef; ref != nil {
			return []string{ref.Namespace + "/" + ref.Name}
		}
		return nil
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &corev1.PersistentVolume{}, indexPVClass, func(o client.Object) []string {
		return []string{o.(*corev1.PersistentVolume).Spec.StorageClassName}
	}); err != nil {
		return err
	}
	skip := true
	opts := crcontroller.Options{SkipNameValidation: &skip, MaxConcurrentReconciles: max(f.Workers, 1)}
	podGone := predicate.Funcs{
		CreateFunc: func(event.CreateEvent) bool { return false }, UpdateFunc: func(event.UpdateEvent) bool { return false },
		DeleteFunc: func(event.DeleteEvent) bool { return true }, GenericFunc: func(event.GenericEvent) bool { return false },
	}
	if err := ctrl.NewControllerManagedBy(mgr).Named("fast-binding-claims-"+f.Driver.Name).WithOptions(opts).
		For(&corev1.PersistentVolumeClaim{}).
		// A pod that goes may free the deleted claims it held; only the
		// pods' metadata is cached.
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(f.held.of), builder.OnlyMetadata, builder.WithPredicates(podGone)).
		Complete(reconcile.Func(f.reconcileClaim)); err != nil {
		return err
	}
	ours := predicate.NewPredicateFuncs(func(o client.Object) bool { return f.provisioned(o.(*corev1.PersistentVolume)) })
	return ctrl.NewControllerManagedBy(mgr).Named("fast-binding-volumes-"+f.Driver.Name).WithOptions(opts).
		For(&corev1.PersistentVolume{}, builder.WithPredicates(ours)).
		// A claim's changes (made, annotated, deleted) concern the volumes
		// that name it.
		Watches(&corev1.PersistentVolumeClaim{}, handler.EnqueueRequestsFromMapFunc(f.volumesOfClaim)).
		Complete(reconcile.Func(f.reconcileVolume))
}

// provisioned: csi-provisioner made pv for this driver.
func (f *FastBinding) provisioned(pv *corev1.PersistentVolume) bool {
	return pv.Spec.CSI != nil && pv.Spec.CSI.Driver == f.Driver.Name && pv.Annotations[annProvisionedBy] == f.Driver.Name
}

func (f *FastBinding) volumesOfClaim(ctx context.Context, o client.Object) []reconcile.Request {
	var pvs corev1.PersistentVolumeList
	if err := f.Client.List(ctx, &pvs, client.MatchingFields{indexPVClaim: o.GetNamespace() + "/" + o.GetName()}); err != nil {
		f.Log.Error(err, "list the volumes of a claim", "claim", client.ObjectKeyFromObject(o))
		return nil
	}
	var reqs []reconcile.Request
	for i := range pvs.Items {
		if f.provisioned(&pvs.Items[i]) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKey{Name: pvs.Items[i].Name}})
		}
	}
	return reqs
}

// settle turns the outcome of a write into a reconcile result. NotFound:
// the object went away, there is nothing left to do. A conflict means the
// API server holds a version the cache has not delivered yet (written by
// kube-controller-manager, a user, or this controller a moment ago); its
// watch event will bring the object back to this controller with that
// version, so there is no point in trying again before it: under a burst
// the cache lags by hundreds of milliseconds, and quick retries from it
// conflict again (a burst of 100 claims: 260 conflicted writes with a 50 ms
// retry, about 210 with this; the rest are first attempts that lost to
// kube-controller-manager). The late retry is a guard only.
func settle(err error) (reconcile.Result, error) {
	switch {
	case err == nil, apierrors.IsNotFound(err):
		return reconcile.Result{}, nil
	case apierrors.IsConflict(err):
		return reconcile.Result{RequeueAfter: conflictGuard}, nil
	}
	return reconcile.Result{}, err
}

// conflictGuard is when an object whose write conflicted is looked at again
// if no event has brought it back before.
const conflictGuard = 2 * time.Second
