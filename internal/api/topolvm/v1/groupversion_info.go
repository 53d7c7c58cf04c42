// Package v1 holds the topolvm.io/v1 API: LogicalVolume, the record of one
// volume on one node that the CSI controller writes and the node plugin
// makes real. Both drivers (topolvm.io on LVM, topols.io on btrfs) use it;
// spec.driverName says whose an object is.
//
// +kubebuilder:object:generate=true
// +groupName=topolvm.io
package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the group and version of these types.
var GroupVersion = schema.GroupVersion{Group: "topolvm.io", Version: "v1"}

// AddToScheme adds the types to a scheme. (This package depends on
// apimachinery only, so that any client can import it.)
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &LogicalVolume{}, &LogicalVolumeList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
