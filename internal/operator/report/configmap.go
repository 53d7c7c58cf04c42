package report

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

const (
	// LabelKind marks the ConfigMaps that hold node reports; List selects
	// by it.
	LabelKind = "topolvm.io/report"
	// LabelKindValue is LabelKind's value on a node report.
	LabelKindValue = "node"
	// AnnotationNode names the report's node (a label value could not hold
	// every node name: labels stop at 63 characters).
	AnnotationNode = "topolvm.io/node"
	// DataKey is the ConfigMap key that holds the report as JSON.
	DataKey = "report.json"
	// FieldManager is the server-side apply field manager of Write.
	FieldManager = "topolvm-operator-agent"

	namePrefix = "node-report-"
	maxNameLen = 253
)

// ConfigMapName is the name of node's report ConfigMap. Node names are DNS
// subdomains like ConfigMap names, so the prefixed name is one too; a name
// too long for the prefix is shortened and made unique with a hash.
func ConfigMapName(node string) string {
	name := namePrefix + node
	if len(name) <= maxNameLen {
		return name
	}
	sum := sha256.Sum256([]byte(node))
	suffix := "-" + hex.EncodeToString(sum[:8])
	return name[:maxNameLen-len(suffix)] + suffix
}

// Write stores r as its node's report in namespace, by server-side apply
// (so the agent needs no read access, and a rewrite of the same report is
// a no-op). r.Updated is set to now when zero. When the Node object can be
// read, it becomes the report's owner, so that deleting a node deletes its
// report; without it (no such Node, no permission) the report is written
// all the same.
func Write(ctx context.Context, c client.Client, namespace string, r NodeReport) error {
	if r.Node == "" {
		return fmt.Errorf("node report without a node name")
	}
	if r.Updated.IsZero() {
		r.Updated = metav1.NewTime(time.Now())
	}
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode report of node %s: %w", r.Node, err)
	}
	cm := corev1ac.ConfigMap(ConfigMapName(r.Node), namespace).
		WithLabels(map[string]string{LabelKind: LabelKindValue}).
		WithAnnotations(map[string]string{AnnotationNode: r.Node}).
		WithData(map[string]string{DataKey: string(data)})
	var node corev1.Node
	switch err := c.Get(ctx, client.ObjectKey{Name: r.Node}, &node); {
	case err == nil:
		cm.WithOwnerReferences(metav1ac.OwnerReference().
			WithAPIVersion("v1").WithKind("Node").WithName(node.Name).WithUID(node.UID))
	case apierrors.IsNotFound(err) || apierrors.IsForbidden(err):
	default:
		return fmt.Errorf("read node %s for its report: %w", r.Node, err)
	}
	if err := c.Apply(ctx, cm, client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
		return fmt.Errorf("write report of node %s: %w", r.Node, err)
	}
	return nil
}

// List reads every node report in namespace, sorted by node. A report that
// cannot be decoded is returned with its node (from the annotation) and an
// error saying so, so that a broken report shows in the status instead of
// hiding the others.
func List(ctx context.Context, c client.Reader, namespace string) ([]NodeReport, error) {
	var cms corev1.ConfigMapList
	if err := c.List(ctx, &cms, client.InNamespace(namespace), client.MatchingLabels{LabelKind: LabelKindValue}); err != nil {
		return nil, fmt.Errorf("list node reports in %s: %w", namespace, err)
	}
	out := make([]NodeReport, 0, len(cms.Items))
	for i := range cms.Items {
		out = append(out, decode(&cms.Items[i]))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Node < out[j].Node })
	return out, nil
}

func decode(cm *corev1.ConfigMap) NodeReport {
	node := cm.Annotations[AnnotationNode]
	var r NodeReport
	if err := json.Unmarshal([]byte(cm.Data[DataKey]), &r); err != nil {
		return NodeReport{Node: node, Updated: cm.CreationTimestamp,
			Errors: []string{fmt.Sprintf("report ConfigMap %s cannot be read: %v", cm.Name, err)}}
	}
	if r.Node == "" {
		r.Node = node
	}
	return r
}
