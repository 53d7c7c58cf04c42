// Package csi implements the CSI Identity, Controller and Node services for
// both drivers of the suite: topolvm.io (LVM logical volumes through lvmd)
// and topols.io (btrfs subvolumes through btrfsd). What differs between the
// drivers is passed in: the driver name and topology key, the storage daemon
// behind the node, and the publisher that makes a volume appear in a pod
// (a block device to format and mount, or a directory to bind-mount).
//
// This package is the only place where errors become CSI gRPC codes
// (errors.go); handlers validate, call domain code, and map the error.
package csi

import (
	"context"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/toposuite/toposuite/internal/version"
)

// Identity implements the CSI Identity service.
type Identity struct {
	csi.UnimplementedIdentityServer
	driver     string
	controller bool
	// ready reports whether the plugin can serve (nil: always ready).
	ready func() error
}

// NewIdentity returns the Identity service of a driver. controller says
// whether this process serves the Controller service too.
func NewIdentity(driver string, controller bool, ready func() error) *Identity {
	return &Identity{driver: driver, controller: controller, ready: ready}
}

// GetPluginInfo implements CSI.
func (i *Identity) GetPluginInfo(context.Context, *csi.GetPluginInfoRequest) (*csi.GetPluginInfoResponse, error) {
	return &csi.GetPluginInfoResponse{Name: i.driver, VendorVersion: version.Get().Version}, nil
}

// GetPluginCapabilities implements CSI.
func (i *Identity) GetPluginCapabilities(context.Context, *csi.GetPluginCapabilitiesRequest) (*csi.GetPluginCapabilitiesResponse, error) {
	caps := []*csi.PluginCapability{
		{Type: &csi.PluginCapability_VolumeExpansion_{VolumeExpansion: &csi.PluginCapability_VolumeExpansion{Type: csi.PluginCapability_VolumeExpansion_ONLINE}}},
	}
	if i.controller {
		caps = append(caps,
			&csi.PluginCapability{Type: &csi.PluginCapability_Service_{Service: &csi.PluginCapability_Service{Type: csi.PluginCapability_Service_CONTROLLER_SERVICE}}},
			&csi.PluginCapability{Type: &csi.PluginCapability_Service_{Service: &csi.PluginCapability_Service{Type: csi.PluginCapability_Service_VOLUME_ACCESSIBILITY_CONSTRAINTS}}},
		)
	}
	return &csi.GetPluginCapabilitiesResponse{Capabilities: caps}, nil
}

// Probe implements CSI: ready when the plugin's dependencies answer.
func (i *Identity) Probe(context.Context, *csi.ProbeRequest) (*csi.ProbeResponse, error) {
	if i.ready != nil {
		if err := i.ready(); err != nil {
			return nil, toStatus(err)
		}
	}
	return &csi.ProbeResponse{Ready: wrapperspb.Bool(true)}, nil
}
