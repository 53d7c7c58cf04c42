// Package v1alpha1 holds the operator.topolvm.io/v1alpha1 API: TopolvmCluster,
// the one object from which topolvm-operator installs and runs the whole
// suite. It lives in its own API group so that its CRD ships in the
// operator's chart only, not in the drivers' charts.
//
// +kubebuilder:object:generate=true
// +groupName=operator.topolvm.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the group and version of these types.
var GroupVersion = schema.GroupVersion{Group: "operator.topolvm.io", Version: "v1alpha1"}

// AddToScheme adds the types to a scheme.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &TopolvmCluster{}, &TopolvmClusterList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}

// ClusterName is the only name a TopolvmCluster may have: one per cluster,
// enforced by the CRD.
const ClusterName = "topolvm"
