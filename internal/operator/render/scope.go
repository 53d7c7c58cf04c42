package render

import "k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

// clusterScoped are the kinds the charts render that have no namespace.
// (The apply step asks the API server's REST mapper; rendering needs no
// cluster, so it keeps this list of what the charts hold.)
var clusterScoped = map[string]bool{
	"ClusterRole": true, "ClusterRoleBinding": true, "CSIDriver": true, "StorageClass": true,
	"MutatingWebhookConfiguration": true, "ValidatingWebhookConfiguration": true,
	"ValidatingAdmissionPolicy": true, "ValidatingAdmissionPolicyBinding": true,
	"CustomResourceDefinition": true, "PriorityClass": true, "Namespace": true,
}

func namespaced(u *unstructured.Unstructured) bool { return !clusterScoped[u.GetKind()] }
