// Package v1 holds the topolvm.io/v1 API: LogicalVolume, the record of one
// volume on one node that the CSI controller writes and the node plugin
// makes real. Both drivers (topolvm.io on LVM, topols.io on btrfs) use it;
// spec.driverName says whose an object is.
//
// +kubebuilder:object:generate=true
// +groupName=topolvm.io
package v1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

// GroupVersion is the group and version of these types.
var GroupVersion = schema.GroupVersion{Group: "topolvm.io", Version: "v1"}

// SchemeBuilder registers the types; AddToScheme adds them to a scheme.
var (
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}
	AddToScheme   = SchemeBuilder.AddToScheme
)
