// Package report carries what a node's agent finds on its node to the
// operator: the free devices it discovered, the volume groups and btrfs
// pools it serves, and the devices prepare refused, with the reason.
//
// Each node's agent writes one ConfigMap in the operator's namespace (Write);
// the operator reads them all (List) and folds them into the TopolvmCluster's
// status. A ConfigMap rather than a CRD keeps the agent's permissions to one
// namespace and keeps the API surface of the operator to TopolvmCluster.
package report

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/toposuite/toposuite/internal/api/operator/v1alpha1"
)

// NodeReport is what one node's agent found on its last pass.
type NodeReport struct {
	Node    string      `json:"node"`
	Updated metav1.Time `json:"updated"`
	// Discovered are the devices free to use: no filesystem, partition
	// table, LVM or other signature, not mounted, not in use.
	Discovered   []Device      `json:"discovered,omitempty"`
	VolumeGroups []VolumeGroup `json:"volumeGroups,omitempty"`
	Pools        []Pool        `json:"pools,omitempty"`
	// Errors are what the agent could not find out on this pass, e.g. that
	// the volume groups could not be listed, and commands prepare ran that
	// failed. Refused devices are under their volume group or pool.
	Errors []string `json:"errors,omitempty"`
	// Refreshed is the last refresh request (RequestRefresh) the agent had
	// seen when it made this report: a report answers a request once
	// Refreshed equals it.
	Refreshed string `json:"refreshed,omitempty"`
}

// Device is a block device on the node. Sizes are in bytes.
type Device struct {
	Path       string   `json:"path"`
	Model      string   `json:"model,omitempty"`
	Serial     string   `json:"serial,omitempty"`
	Size       int64    `json:"size"`
	Rotational bool     `json:"rotational"`
	ByID       []string `json:"byID,omitempty"`
}

// VolumeGroup is an LVM volume group that lvmd serves on the node, with the
// devices the node's configuration asked for that prepare refused to add.
// It is the status's type: the operator shows it as the agent reports it.
type VolumeGroup = v1alpha1.StorageStatus

// Pool is a btrfs pool that btrfsd serves on the node, with the devices the
// node's configuration asked for that prepare refused.
type Pool struct {
	Name    string    `json:"name"`
	Path    string    `json:"path"`
	Size    int64     `json:"size"`
	Free    int64     `json:"free"`
	Devices []string  `json:"devices,omitempty"`
	Refused []Refusal `json:"refused,omitempty"`
}

// Refusal is a device that prepare left alone, and why, in words that name
// what is on it (e.g. "holds an ext4 filesystem"); the status's type too.
type Refusal = v1alpha1.RefusedDevice
