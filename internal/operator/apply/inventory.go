package apply

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/toposuite/toposuite/internal/api/operator/v1alpha1"
)

// InventoryName is the ConfigMap (in the operator's namespace) listing
// every object the operator applied.
const InventoryName = "topolvm-operator-inventory"

const inventoryKey = "objects.json"

// Ref names one applied object.
type Ref struct {
	Group     string `json:"group,omitempty"`
	Version   string `json:"version"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// RefOf is the Ref of an object.
func RefOf(o *unstructured.Unstructured) Ref {
	gvk := o.GroupVersionKind()
	return Ref{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind, Namespace: o.GetNamespace(), Name: o.GetName()}
}

// GVK of the object.
func (r Ref) GVK() schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: r.Group, Version: r.Version, Kind: r.Kind}
}

func (r Ref) String() string {
	return strings.TrimPrefix(r.Group+"/", "/") + r.Kind + " " + strings.TrimPrefix(r.Namespace+"/", "/") + r.Name
}

func (a *Applier) inventoryObject() *corev1.ConfigMap {
	cm := &corev1.ConfigMap{}
	cm.Namespace, cm.Name = a.Namespace, InventoryName
	return cm
}

func (a *Applier) readInventory(ctx context.Context) (map[Ref]bool, error) {
	var cm corev1.ConfigMap
	err := a.Reader.Get(ctx, client.ObjectKey{Namespace: a.Namespace, Name: InventoryName}, &cm)
	if apierrors.IsNotFound(err) {
		return map[Ref]bool{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the inventory: %w", err)
	}
	var refs []Ref
	if err := json.Unmarshal([]byte(cm.Data[inventoryKey]), &refs); err != nil {
		return nil, fmt.Errorf("inventory %s/%s: %w", a.Namespace, InventoryName, err)
	}
	out := make(map[Ref]bool, len(refs))
	for _, r := range refs {
		out[r] = true
	}
	return out, nil
}

func (a *Applier) writeInventory(ctx context.Context, owner *v1alpha1.TopolvmCluster, refs map[Ref]bool) error {
	list := slices.SortedFunc(maps.Keys(refs), func(x, y Ref) int { return strings.Compare(x.String(), y.String()) })
	b, err := json.Marshal(list)
	if err != nil {
		return err
	}
	o := ownerRef(owner)
	// Owned too: if the operator is gone when the TopolvmCluster is
	// deleted, the garbage collector still removes it.
	cm := corev1ac.ConfigMap(InventoryName, a.Namespace).
		WithLabels(map[string]string{LabelOwner: owner.Name}).
		WithData(map[string]string{inventoryKey: string(b)}).
		WithOwnerReferences(metav1ac.OwnerReference().WithAPIVersion(o.APIVersion).WithKind(o.Kind).
			WithName(o.Name).WithUID(o.UID).WithController(true).WithBlockOwnerDeletion(true))
	if err := a.Client.Apply(ctx, cm, client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
		return fmt.Errorf("write the inventory: %w", err)
	}
	return nil
}

func union(a, b map[Ref]bool) map[Ref]bool {
	out := maps.Clone(a)
	maps.Copy(out, b)
	return out
}
