package report

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// AnnotationRefresh on a node's report ConfigMap asks the node's agent for
// a new report now rather than at its next periodic pass. The agent watches
// its own ConfigMap, so a request costs one patch and one pass.
const AnnotationRefresh = "topolvm.io/refresh"

// RequestRefresh asks node's agent for a new report, naming the request
// token (any value that differs from the last request, e.g. the spec's
// generation). The report answers it once its Refreshed equals token. A
// node without a report yet has no agent running: NotFound is returned.
func RequestRefresh(ctx context.Context, c client.Writer, namespace, node, token string) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{AnnotationRefresh: token}}})
	if err != nil {
		return err
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: ConfigMapName(node)}}
	if err := c.Patch(ctx, cm, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("ask node %s for a new report: %w", node, err)
	}
	return nil
}
