package render

import (
	"fmt"
	"reflect"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/toposuite/toposuite/internal/api/operator/v1alpha1"
	"github.com/toposuite/toposuite/internal/operator/values"
)

// Cluster renders everything a spec asks for as ClusterOn does, for a
// cluster without nodes: groups with device selectors get no node plugin.
func (r *Renderer) Cluster(spec *v1alpha1.TopolvmClusterSpec, namespace string) ([]*unstructured.Unstructured, error) {
	objs, _, err := r.ClusterOn(spec, namespace, nil)
	return objs, err
}

// ClusterOn renders everything a spec asks for on nodes: each release the
// values package derives, merged into one set (see merge), preceded by the
// LogicalVolume CRD when a driver runs. The nodes of groups with device
// selectors that get no node plugin yet are returned with the reason.
func (r *Renderer) ClusterOn(spec *v1alpha1.TopolvmClusterSpec, namespace string, nodes []values.Node) ([]*unstructured.Unstructured, []values.Unresolved, error) {
	rels, unresolved, err := values.Releases(spec, nodes)
	if err != nil {
		return nil, nil, err
	}
	var out []*unstructured.Unstructured
	if len(rels) > 0 && (spec.Components.LVM.Enabled || spec.Components.Btrfs.Enabled) {
		// Both driver charts carry the same CRD; take it from the first.
		crds, err := r.CRDs(rels[0].Chart)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, crds...)
	}
	for _, rel := range rels {
		objs, err := r.Release(rel, namespace)
		if err != nil {
			return nil, nil, err
		}
		if out, err = merge(out, objs); err != nil {
			return nil, nil, err
		}
	}
	return out, unresolved, nil
}

// merge adds objs to set. The per-node-group releases of a driver render
// the same cluster-scoped objects as each other and the main release (the
// CSIDriver, the node ClusterRole, ...): the first one rendered is kept,
// and a ClusterRoleBinding rendered again gets the other release's
// subjects added (each group's node ServiceAccount). Two namespaced objects
// of one name are a naming bug and fail.
func merge(set, objs []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	index := make(map[string]*unstructured.Unstructured, len(set))
	for _, o := range set {
		index[Key(o)] = o
	}
	for _, o := range objs {
		k := Key(o)
		prev, dup := index[k]
		switch {
		case !dup:
			index[k] = o
			set = append(set, o)
		case o.GetNamespace() != "":
			return nil, fmt.Errorf("two releases render %s", k)
		case o.GetKind() == "ClusterRoleBinding":
			if err := addSubjects(prev, o); err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
		}
	}
	return set, nil
}

func addSubjects(into, from *unstructured.Unstructured) error {
	have, _, err := unstructured.NestedSlice(into.Object, "subjects")
	if err != nil {
		return err
	}
	more, _, err := unstructured.NestedSlice(from.Object, "subjects")
	if err != nil {
		return err
	}
next:
	for _, s := range more {
		for _, h := range have {
			if reflect.DeepEqual(h, s) {
				continue next
			}
		}
		have = append(have, s)
	}
	return unstructured.SetNestedSlice(into.Object, have, "subjects")
}

// Key identifies an object: group/kind namespace/name.
func Key(o *unstructured.Unstructured) string {
	gvk := o.GroupVersionKind()
	return gvk.Group + "/" + gvk.Kind + " " + o.GetNamespace() + "/" + o.GetName()
}
