// Package apply makes the cluster hold exactly the objects the operator
// rendered: server-side apply under one field manager, owner references to
// the TopolvmCluster, and pruning of what an earlier apply made that the
// spec no longer asks for.
//
// What was applied is remembered in an inventory (a ConfigMap next to the
// operator) and every applied object carries the owner label: prune only
// deletes an object that is in the inventory, not rendered any more, and
// still labelled as ours, so an object someone else took over is left
// alone.
package apply

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/toposuite/toposuite/internal/api/operator/v1alpha1"
)

const (
	// FieldManager is the one server-side apply field manager of every
	// object the operator makes.
	FieldManager = "topolvm-operator"
	// LabelOwner marks every object the operator made; its value is the
	// TopolvmCluster's name. The operator watches objects by it.
	LabelOwner = "operator.topolvm.io/owner"
)

// Applier applies rendered objects for one TopolvmCluster.
type Applier struct {
	Client client.Client
	// Reader reads the inventory past any cache: a stale inventory would
	// forget objects to prune.
	Reader    client.Reader
	Namespace string // where the inventory lives
	Log       logr.Logger
}

// Result says what an Apply did.
type Result struct {
	Applied int
	Pruned  []string
}

// Apply server-side applies objs (owned by owner, except the kinds in
// unowned: CRDs whose deletion would take users' data with them), then
// prunes what the previous inventory held and objs no longer do, then
// records the new inventory. It stops at the first failure: the inventory
// then still lists everything, so the next attempt prunes what it must.
func (a *Applier) Apply(ctx context.Context, owner *v1alpha1.TopolvmCluster, objs []*unstructured.Unstructured) (Result, error) {
	var res Result
	inv, err := a.readInventory(ctx)
	if err != nil {
		return res, err
	}
	want := make(map[Ref]bool, len(objs))
	for _, o := range objs {
		want[RefOf(o)] = true
	}
	// Record the union first, so that a crash between apply and prune
	// forgets nothing it made.
	if err := a.writeInventory(ctx, owner, union(inv, want)); err != nil {
		return res, err
	}
	for _, o := range objs {
		if err := a.applyOne(ctx, owner, o); err != nil {
			return res, err
		}
		res.Applied++
	}
	var errs []error
	for ref := range inv {
		if want[ref] {
			continue
		}
		deleted, err := a.deleteIfOurs(ctx, owner, ref)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if deleted {
			res.Pruned = append(res.Pruned, ref.String())
			a.Log.Info("pruned", "object", ref.String())
		}
	}
	if len(errs) > 0 {
		return res, errors.Join(errs...)
	}
	return res, a.writeInventory(ctx, owner, want)
}

// DeleteAll deletes every object of the inventory that keep does not
// spare (the TopolvmCluster is being deleted), then the inventory itself.
func (a *Applier) DeleteAll(ctx context.Context, owner *v1alpha1.TopolvmCluster, keep func(Ref) bool) error {
	inv, err := a.readInventory(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for ref := range inv {
		if keep(ref) {
			continue
		}
		if _, err := a.deleteIfOurs(ctx, owner, ref); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return client.IgnoreNotFound(a.Client.Delete(ctx, a.inventoryObject()))
}

func (a *Applier) applyOne(ctx context.Context, owner *v1alpha1.TopolvmCluster, o *unstructured.Unstructured) error {
	o = o.DeepCopy()
	labels := o.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelOwner] = owner.Name
	o.SetLabels(labels)
	if o.GetKind() != "CustomResourceDefinition" {
		o.SetOwnerReferences([]metav1.OwnerReference{ownerRef(owner)})
	}
	err := a.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(o), client.FieldOwner(FieldManager), client.ForceOwnership)
	if err != nil {
		return fmt.Errorf("apply %s: %w", RefOf(o), err)
	}
	return nil
}

// deleteIfOurs deletes ref when it still carries our owner label.
func (a *Applier) deleteIfOurs(ctx context.Context, owner *v1alpha1.TopolvmCluster, ref Ref) (bool, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(ref.GVK())
	err := a.Client.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, u)
	switch {
	case apierrors.IsNotFound(err) || meta.IsNoMatchError(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("read %s to prune it: %w", ref, err)
	case u.GetLabels()[LabelOwner] != owner.Name:
		a.Log.Info("not pruning an object that is no longer ours", "object", ref.String())
		return false, nil
	}
	if err := a.Client.Delete(ctx, u, client.PropagationPolicy(metav1.DeletePropagationBackground)); client.IgnoreNotFound(err) != nil {
		return false, fmt.Errorf("prune %s: %w", ref, err)
	}
	return true, nil
}

func ownerRef(owner *v1alpha1.TopolvmCluster) metav1.OwnerReference {
	t := true
	return metav1.OwnerReference{
		APIVersion: v1alpha1.GroupVersion.String(), Kind: "TopolvmCluster",
		Name: owner.Name, UID: owner.UID, Controller: &t, BlockOwnerDeletion: &t,
	}
}
