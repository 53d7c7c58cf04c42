package csi

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Reasons of the Warning Events the controller records on a claim whose
// volume cannot be made or grown: what a user reads in kubectl describe
// pvc, next to csi-provisioner's and csi-resizer's own (which carry the
// error but not what to do about it).
const (
	// ReasonNotEnoughCapacity: no node (or not the volume's node) has room.
	ReasonNotEnoughCapacity = "NotEnoughCapacity"
	// ReasonInvalidParameter: the StorageClass or the claim asks for
	// something the driver cannot give (a parameter, a class no node has,
	// an access mode, a size).
	ReasonInvalidParameter = "InvalidParameter"
	// ReasonNodeGone: the node chosen for the volume, or holding it, no
	// longer exists.
	ReasonNodeGone = "NodeGone"
)

// csi-provisioner's extra create metadata (--extra-create-metadata): the
// claim a CreateVolume is for.
const (
	paramClaimName      = "csi.storage.k8s.io/pvc/name"
	paramClaimNamespace = "csi.storage.k8s.io/pvc/namespace"
)

// Claim names the claim an Event is about: by name (CreateVolume, from
// csi-provisioner's metadata) or by the volume bound to it (expansion:
// csi-resizer sends no claim, the volume's claimRef has it).
type Claim struct {
	Namespace, Name string
	VolumeID        string
}

// ClaimEvents records Warning Events on claims; the Kubernetes
// implementation is in internal/controller. It is called only when a
// request failed, so it may read the API server.
type ClaimEvents interface {
	Warn(ctx context.Context, claim Claim, reason, action, note string)
}

// SetClaimEvents makes the controller tell claims why their volume cannot
// be made or grown (nil: no Events).
func (c *Controller) SetClaimEvents(e ClaimEvents) { c.events = e }

// CreateVolume implements CSI: createVolume, and an Event on the claim
// when it failed for a reason its user can act on.
func (c *Controller) CreateVolume(ctx context.Context, req *csi.CreateVolumeRequest) (*csi.CreateVolumeResponse, error) {
	resp, err := c.createVolume(ctx, req)
	if err != nil && c.events != nil {
		ctx, cancel := eventContext(ctx)
		defer cancel()
		p := req.GetParameters()
		if claim := (Claim{Namespace: p[paramClaimNamespace], Name: p[paramClaimName]}); claim.Name != "" && claim.Namespace != "" {
			if reason, note := c.createAdvice(ctx, req, err); reason != "" {
				c.events.Warn(ctx, claim, reason, "CreateVolume", note)
			}
		}
	}
	return resp, err
}

// ControllerExpandVolume implements CSI: controllerExpandVolume, and an
// Event on the volume's claim when it failed for a reason its user can act
// on.
func (c *Controller) ControllerExpandVolume(ctx context.Context, req *csi.ControllerExpandVolumeRequest) (*csi.ControllerExpandVolumeResponse, error) {
	resp, err := c.controllerExpandVolume(ctx, req)
	if err != nil && c.events != nil && req.GetVolumeId() != "" {
		ctx, cancel := eventContext(ctx)
		defer cancel()
		if reason, note := c.expandAdvice(ctx, req, err); reason != "" {
			c.events.Warn(ctx, Claim{VolumeID: req.GetVolumeId()}, reason, "ExpandVolume", note)
		}
	}
	return resp, err
}

// eventContext is the request's context for the Event's reads and write,
// without its deadline: a request that failed by running out of time
// (a node that never answers) still gets its Event.
func eventContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
}

// createAdvice says why a CreateVolume failed and what to do, or "" for a
// failure the user cannot act on (the API server or a node is briefly
// unavailable: csi-provisioner retries).
func (c *Controller) createAdvice(ctx context.Context, req *csi.CreateVolumeRequest, err error) (string, string) {
	msg := status.Convert(err).Message()
	switch status.Code(err) {
	case codes.InvalidArgument, codes.OutOfRange:
		return ReasonInvalidParameter, fmt.Sprintf("Cannot make the volume: %s. Fix the StorageClass's parameters or the claim (access mode, size), then create the claim again.", msg)
	case codes.ResourceExhausted:
		if gone := c.goneNodes(ctx, req.GetAccessibilityRequirements()); len(gone) != 0 {
			return ReasonNodeGone, fmt.Sprintf("Node %s, chosen for this volume, no longer exists. The scheduler picks another node for the pod; if the pod stays Pending, delete it so that it is scheduled again.", strings.Join(gone, ", "))
		}
		return ReasonNotEnoughCapacity, fmt.Sprintf("Cannot make the volume: %s. Free space on a node, add disks to the device class, or ask for less.", msg)
	}
	return "", ""
}

// expandAdvice says why an expansion failed and what to do, or "".
func (c *Controller) expandAdvice(ctx context.Context, req *csi.ControllerExpandVolumeRequest, err error) (string, string) {
	msg := status.Convert(err).Message()
	node := ""
	if lv, gerr := c.volumes.Get(ctx, req.GetVolumeId()); gerr == nil {
		node = lv.Spec.NodeName
	}
	if node != "" && c.nodeGone(ctx, node) {
		return ReasonNodeGone, fmt.Sprintf("The volume is on node %s, which no longer exists: it cannot be grown. Restore its data from a backup into a new claim.", node)
	}
	switch status.Code(err) {
	case codes.OutOfRange:
		return ReasonNotEnoughCapacity, fmt.Sprintf("Node %s has no room to grow the volume: %s. Free space on that node, or set the claim's request back to its current size.", node, msg)
	case codes.InvalidArgument:
		return ReasonInvalidParameter, fmt.Sprintf("Cannot grow the volume: %s. Fix the claim's request.", msg)
	}
	return "", ""
}

// goneNodes lists the nodes the accessibility requirements name that have
// no Node object: csi-provisioner passes the scheduler's choice (the
// claim's selected node) there, which may have been deleted since.
func (c *Controller) goneNodes(ctx context.Context, ar *csi.TopologyRequirement) []string {
	var gone []string
	seen := map[string]bool{}
	for _, t := range append(append([]*csi.Topology{}, ar.GetPreferred()...), ar.GetRequisite()...) {
		if n := t.GetSegments()[c.d.TopologyKey]; n != "" && !seen[n] {
			seen[n] = true
			if c.nodeGone(ctx, n) {
				gone = append(gone, n)
			}
		}
	}
	if len(gone) != len(seen) {
		return nil // another candidate exists: lack of room, not a lost node
	}
	return gone
}

func (c *Controller) nodeGone(ctx context.Context, node string) bool {
	_, err := c.capacity.Available(ctx, node, "", "")
	return apierrors.IsNotFound(err)
}
