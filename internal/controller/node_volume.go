package controller

import (
	"context"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crcontroller "sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	v1 "github.com/toposuite/toposuite/internal/api/topolvm/v1"
	api "github.com/toposuite/toposuite/internal/daemonapi"
)

// NodeVolumeReconciler makes the LogicalVolumes of one node and one driver
// real through the node's storage daemon (lvmd or btrfsd): it creates,
// snapshots, grows and removes volumes and writes the outcome to status.
type NodeVolumeReconciler struct {
	Client   client.Client
	Daemon   api.StorageDaemonClient
	Driver   string
	NodeName string
	Log      logr.Logger
	// Capacity, when set, promises a publication of the node's capacity
	// after each volume the daemon creates or grows; the promised revision
	// goes into status.capacityRevision in the same write as the outcome
	// (see CapacityPromiser). Nil leaves capacityRevision at 0.
	Capacity CapacityPromiser
	// Events, when set, records what a user must know on the
	// LogicalVolume (a volume that belongs to another object, a deletion
	// that removed nothing).
	Events events.EventRecorder

	// released carries the volumes this node stopped using (Released).
	released chan event.TypedGenericEvent[*v1.LogicalVolume]
}

// CapacityPromiser is what the reconciler needs of the CapacityPublisher.
type CapacityPromiser interface {
	// Promise returns the revision of a coming write of the Node's
	// capacity annotations with figures read after the call, without
	// waiting for the write.
	Promise(ctx context.Context) (int64, error)
}

// +kubebuilder:rbac:groups=topolvm.io,resources=logicalvolumes,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=topolvm.io,resources=logicalvolumes/status,verbs=get;update;patch

// Finalizer is the finalizer a node puts on its LogicalVolumes, so that the
// object outlives the volume it stands for.
func (r *NodeVolumeReconciler) Finalizer() string { return v1.Finalizer(r.Driver) }

// SetupWithManager registers the reconciler for this node's and driver's objects.
func (r *NodeVolumeReconciler) SetupWithManager(mgr ctrl.Manager) error {
	deleting := predicate.NewPredicateFuncs(func(o client.Object) bool { return !o.GetDeletionTimestamp().IsZero() })
	mine := predicate.NewPredicateFuncs(func(o client.Object) bool {
		lv, ok := o.(*v1.LogicalVolume)
		return ok && lv.Spec.NodeName == r.NodeName && lv.Spec.DriverName == r.Driver
	})
	// The controller clears a failure to have the node try again (a
	// growth refused for want of room, asked for again).
	never := func(client.Object) bool { return false }
	retried := predicate.NewPredicateFuncs(never)
	retried.UpdateFunc = func(e event.UpdateEvent) bool {
		o, ok1 := e.ObjectOld.(*v1.LogicalVolume)
		n, ok2 := e.ObjectNew.(*v1.LogicalVolume)
		return ok1 && ok2 && o.Status.Code != "" && n.Status.Code == ""
	}
	// A process may run this reconciler more than once (tests restart node
	// plugins in one process), so the name is not required to be unique.
	skip := true
	r.released = make(chan event.TypedGenericEvent[*v1.LogicalVolume], releasedBuffer)
	return ctrl.NewControllerManagedBy(mgr).Named("logicalvolume-node-"+r.Driver).
		// Volumes are independent and the daemons take concurrent requests
		// (per-volume locks): reconcile several at once, or a burst of
		// PVCs would queue behind one another here. More did not help:
		// with 32 the LVM burst was no faster (LVM's VG lock serialises
		// creates, and every waiting lvm process scans the devices first).
		WithOptions(crcontroller.Options{SkipNameValidation: &skip, MaxConcurrentReconciles: 8}).
		// Only spec changes and deletions need work; the reconciler's own
		// finalizer and status updates would otherwise come back as events
		// and be reconciled again against a cache that has not caught up.
		For(&v1.LogicalVolume{}, builder.WithPredicates(predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, deleting, retried))).
		WatchesRawSource(source.Channel(r.released, &handler.TypedEnqueueRequestForObject[*v1.LogicalVolume]{})).
		WithEventFilter(mine).Complete(r)
}

// releasedBuffer is how many released volumes may wait for the queue; past
// it, Released drops them and their removals keep their back-off.
const releasedBuffer = 1024

// Released tells the reconciler that this node no longer uses the volume of
// the LogicalVolume name (the CSI volume ID): the kubelet unpublished it.
// A removal refused while the volume was in use (a pod deleted at the same
// time as its claim) is tried again now, not when its back-off, which
// doubles with every refusal, ends.
func (r *NodeVolumeReconciler) Released(name string) {
	if r.released == nil {
		return
	}
	lv := &v1.LogicalVolume{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.LogicalVolumeSpec{NodeName: r.NodeName, DriverName: r.Driver}}
	select {
	case r.released <- event.TypedGenericEvent[*v1.LogicalVolume]{Object: lv}:
	default:
	}
}

// terminal codes will not change on retry: the controller reads them and
// gives up (and deletes the object); others are retried.
var terminal = map[codes.Code]bool{
	codes.InvalidArgument: true, codes.AlreadyExists: true, codes.ResourceExhausted: true,
	codes.NotFound: true, codes.FailedPrecondition: true, codes.OutOfRange: true,
}

// Reconcile implements reconcile.Reconciler.
func (r *NodeVolumeReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	lv := &v1.LogicalVolume{}
	if err := r.Client.Get(ctx, req.NamespacedName, lv); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if lv.Spec.NodeName != r.NodeName || lv.Spec.DriverName != r.Driver {
		return reconcile.Result{}, nil
	}
	log := r.Log.WithValues("logicalVolume", lv.Name)
	if !lv.DeletionTimestamp.IsZero() {
		return r.remove(ctx, log, lv)
	}
	if !controllerutil.ContainsFinalizer(lv, r.Finalizer()) {
		patch := client.MergeFrom(lv.DeepCopy())
		controllerutil.AddFinalizer(lv, r.Finalizer())
		if err := r.Client.Patch(ctx, lv, patch); err != nil {
			return reconcile.Result{}, err
		}
	}
	if lv.Status.VolumeID == "" {
		if lv.Status.Code != "" {
			return reconcile.Result{}, nil // answered with an error; the controller decides
		}
		return r.create(ctx, log, lv)
	}
	if lv.Status.CurrentSize == nil || lv.Spec.Size.Cmp(*lv.Status.CurrentSize) > 0 {
		if lv.Status.Code != "" {
			return reconcile.Result{}, nil
		}
		return r.resize(ctx, log, lv)
	}
	return reconcile.Result{}, nil
}

func (r *NodeVolumeReconciler) create(ctx context.Context, log logr.Logger, lv *v1.LogicalVolume) (reconcile.Result, error) {
	var vol *api.Volume
	var err error
	start := time.Now()
	if lv.Spec.Source != "" {
		var resp *api.VolumeResponse
		resp, err = r.Daemon.CreateSnapshot(ctx, &api.CreateSnapshotRequest{
			Name: lv.Spec.Name, DeviceClass: lv.Spec.DeviceClass, SourceName: lv.Spec.Source,
			SizeBytes: lv.Spec.Size.Value(), ReadOnly: lv.Spec.AccessType == "ro", OwnerUid: string(lv.UID),
		})
		vol = resp.GetVolume()
	} else {
		var resp *api.VolumeResponse
		resp, err = r.Daemon.CreateVolume(ctx, &api.CreateVolumeRequest{
			Name: lv.Spec.Name, DeviceClass: lv.Spec.DeviceClass, SizeBytes: lv.Spec.Size.Value(), OptionsClass: lv.Spec.OptionsClass,
			OwnerUid: string(lv.UID),
		})
		vol = resp.GetVolume()
	}
	patch := client.MergeFrom(lv.DeepCopy())
	if err != nil {
		code := status.Code(err)
		if !terminal[code] {
			return reconcile.Result{}, fmt.Errorf("create volume %s: %w", lv.Spec.Name, err)
		}
		log.Info("volume cannot be created", "code", code.String(), "error", err.Error())
		if api.IsOwnedByAnother(err) {
			r.event(lv, corev1.EventTypeWarning, ReasonOwnedByAnother, "Create", "volume %s on node %s belongs to another LogicalVolume; this object may not use it: %s", lv.Spec.Name, r.NodeName, status.Convert(err).Message())
		} else {
			r.event(lv, corev1.EventTypeWarning, ReasonCreateFailed, "Create", "node %s cannot create volume %s (%s): %s", r.NodeName, lv.Spec.Name, code, status.Convert(err).Message())
		}
		lv.Status.Code, lv.Status.Message = code.String(), status.Convert(err).Message()
	} else {
		// The scheduler extender subtracts the volume until the Node shows
		// rev, which is published after this create.
		rev, err := r.promiseCapacity(ctx)
		if err != nil { // retried: creating is idempotent
			return reconcile.Result{}, fmt.Errorf("promise capacity after creating volume %s: %w", lv.Spec.Name, err)
		}
		log.Info("volume created", "sizeBytes", vol.GetSizeBytes(), "capacityRevision", rev, "durationMs", time.Since(start).Milliseconds())
		lv.Status.VolumeID, lv.Status.Code, lv.Status.Message = vol.GetName(), "", ""
		lv.Status.CurrentSize = resource.NewQuantity(vol.GetSizeBytes(), resource.BinarySI)
		lv.Status.CapacityRevision = rev
	}
	return reconcile.Result{}, r.Client.Status().Patch(ctx, lv, patch)
}

func (r *NodeVolumeReconciler) resize(ctx context.Context, log logr.Logger, lv *v1.LogicalVolume) (reconcile.Result, error) {
	// Only an object the volume was reported to is resized, so a volume
	// made before volumes recorded their owner is this object's.
	resp, err := r.Daemon.ResizeVolume(ctx, &api.ResizeVolumeRequest{
		Name: lv.Spec.Name, DeviceClass: lv.Spec.DeviceClass, SizeBytes: lv.Spec.Size.Value(),
		OwnerUid: string(lv.UID), AdoptUnowned: true,
	})
	patch := client.MergeFrom(lv.DeepCopy())
	if err != nil {
		code := status.Code(err)
		if !terminal[code] {
			return reconcile.Result{}, fmt.Errorf("resize volume %s: %w", lv.Spec.Name, err)
		}
		r.event(lv, corev1.EventTypeWarning, ReasonResizeFailed, "Resize", "node %s cannot grow volume %s to %s (%s): %s", r.NodeName, lv.Spec.Name, lv.Spec.Size.String(), code, status.Convert(err).Message())
		lv.Status.Code, lv.Status.Message = code.String(), status.Convert(err).Message()
	} else {
		rev, err := r.promiseCapacity(ctx)
		if err != nil { // retried: growing to the same size is a no-op
			return reconcile.Result{}, fmt.Errorf("promise capacity after resizing volume %s: %w", lv.Spec.Name, err)
		}
		log.Info("volume resized", "sizeBytes", resp.GetVolume().GetSizeBytes(), "capacityRevision", rev)
		lv.Status.Code, lv.Status.Message = "", ""
		lv.Status.CurrentSize = resource.NewQuantity(resp.GetVolume().GetSizeBytes(), resource.BinarySI)
		lv.Status.CapacityRevision = rev
	}
	return reconcile.Result{}, r.Client.Status().Patch(ctx, lv, patch)
}

// promiseCapacity has the node's capacity published after a change the
// daemon made and returns the revision that will count it (0 without a
// publisher). Removals need none: until the Node shows them, the extender
// counts the removed volume as taken, which errs on the safe side.
func (r *NodeVolumeReconciler) promiseCapacity(ctx context.Context) (int64, error) {
	if r.Capacity == nil {
		return 0, nil
	}
	return r.Capacity.Promise(ctx)
}

func (r *NodeVolumeReconciler) remove(ctx context.Context, log logr.Logger, lv *v1.LogicalVolume) (reconcile.Result, error) {
	if !controllerutil.ContainsFinalizer(lv, r.Finalizer()) {
		return reconcile.Result{}, nil
	}
	// A volume that records no owner was made before volumes recorded
	// theirs; it is this object's only if it was reported to this object.
	_, err := r.Daemon.RemoveVolume(ctx, &api.RemoveVolumeRequest{
		Name: lv.Spec.Name, DeviceClass: lv.Spec.DeviceClass,
		OwnerUid: string(lv.UID), AdoptUnowned: lv.Status.VolumeID != "",
	})
	switch {
	case err == nil:
		log.Info("volume removed")
	case api.IsOwnedByAnother(err):
		// This object never owned the volume: it goes, the volume stays
		// with the object it belongs to.
		log.Info("volume belongs to another object; removing this object only", "error", err.Error())
		r.event(lv, corev1.EventTypeWarning, ReasonOwnedByAnother, "Delete", "volume %s on node %s was left in place: it belongs to another LogicalVolume (%s)", lv.Spec.Name, r.NodeName, status.Convert(err).Message())
	case status.Code(err) == codes.InvalidArgument:
		// No volume can exist under a name or class the daemon refuses
		// (or the daemon cannot reach it): keeping the finalizer would
		// only make the object impossible to delete.
		log.Info("volume cannot exist as named; removing the object only", "error", err.Error())
		r.event(lv, corev1.EventTypeWarning, ReasonNothingRemoved, "Delete", "nothing was removed from node %s: %s", r.NodeName, status.Convert(err).Message())
	default:
		log.Info("volume cannot be removed yet", "error", err.Error())
		patch := client.MergeFrom(lv.DeepCopy())
		lv.Status.Code, lv.Status.Message = status.Code(err).String(), status.Convert(err).Message()
		_ = r.Client.Status().Patch(ctx, lv, patch)
		return reconcile.Result{}, fmt.Errorf("remove volume %s: %w", lv.Spec.Name, err)
	}
	patch := client.MergeFrom(lv.DeepCopy())
	controllerutil.RemoveFinalizer(lv, r.Finalizer())
	return reconcile.Result{}, client.IgnoreNotFound(r.Client.Patch(ctx, lv, patch))
}

// Event reasons the node plugin records on LogicalVolumes.
const (
	// ReasonOwnedByAnother: the object names a volume that belongs to
	// another LogicalVolume; it was neither adopted nor removed.
	ReasonOwnedByAnother = "VolumeOwnedByAnother"
	// ReasonNothingRemoved: the object was deleted, but its volume could
	// not exist as named, so nothing was removed from the node.
	ReasonNothingRemoved = "NothingRemoved"
	// ReasonCreateFailed and ReasonResizeFailed: the node's storage
	// daemon refused the volume or its growth for good (no room, a bad
	// parameter); the controller answers the claim with the same words.
	ReasonCreateFailed = "CreateFailed"
	ReasonResizeFailed = "ResizeFailed"
)

func (r *NodeVolumeReconciler) event(lv *v1.LogicalVolume, kind, reason, action, note string, args ...any) {
	if r.Events != nil {
		r.Events.Eventf(lv, nil, kind, reason, action, note, args...)
	}
}
