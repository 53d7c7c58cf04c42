// Package values turns a TopolvmCluster's spec into Helm releases of the
// suite's own charts: which releases, of which chart, with which values.
// It is pure (no API calls), so every rule of the mapping is unit-tested.
//
// Each driver is one "main" release (controller, CSIDriver, StorageClasses,
// webhook) plus one release per node group that has storage for it (the
// node DaemonSet, restricted to the group's nodes by nodeSelector, with
// that group's lvmd or btrfsd configuration and prepare as an init
// container). The chart puts a checksum of that configuration on the pod
// template, so a changed configuration (a device added) rolls the
// DaemonSet, prepare runs again and the volume group grows.
//
// A group whose volume groups choose devices by deviceSelector is one
// release per node instead (ResolveDevices, Releases' nodes): the devices
// differ from node to node.
package values
