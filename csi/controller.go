package csi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"

	"regexp"
	"sort"
	"strings"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/toposuite/toposuite/internal/api/topolvm/v1"
	"github.com/toposuite/toposuite/internal/keylock"
)

// Controller implements the CSI Controller service of one driver.
type Controller struct {
	csi.UnimplementedControllerServer
	d        Driver
	volumes  VolumeStore
	capacity NodeCapacity
	locks    keylock.Map
	events   ClaimEvents // controller_events.go
}

// NewController returns the Controller service.
func NewController(d Driver, volumes VolumeStore, capacity NodeCapacity) *Controller {
	return &Controller{d: d, volumes: volumes, capacity: capacity}
}

var plainName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// VolumeID is the LogicalVolume name (and the daemon's volume name) of a
// CSI volume name: the name itself when it is a short lowercase DNS label
// (csi-provisioner's pvc-<uid>), else a digest of it, so any name works and
// the same name always gives the same ID (idempotency across retries).
func (d Driver) VolumeID(name string) string {
	if plainName.MatchString(name) && !strings.HasPrefix(name, "snapshot") {
		return name
	}
	sum := sha256.Sum256([]byte(d.Name + "\x00" + name))
	return d.ShortName() + "-" + hex.EncodeToString(sum[:])[:40]
}

// ControllerGetCapabilities implements CSI.
func (c *Controller) ControllerGetCapabilities(context.Context, *csi.ControllerGetCapabilitiesRequest) (*csi.ControllerGetCapabilitiesResponse, error) {
	var caps []*csi.ControllerServiceCapability
	for _, t := range []csi.ControllerServiceCapability_RPC_Type{
		csi.ControllerServiceCapability_RPC_CREATE_DELETE_VOLUME,
		csi.ControllerServiceCapability_RPC_EXPAND_VOLUME,
		csi.ControllerServiceCapability_RPC_GET_CAPACITY,
		csi.ControllerServiceCapability_RPC_CREATE_DELETE_SNAPSHOT,
		csi.ControllerServiceCapability_RPC_LIST_SNAPSHOTS,
		csi.ControllerServiceCapability_RPC_CLONE_VOLUME,
	} {
		caps = append(caps, &csi.ControllerServiceCapability{Type: &csi.ControllerServiceCapability_Rpc{Rpc: &csi.ControllerServiceCapability_RPC{Type: t}}})
	}
	return &csi.ControllerGetCapabilitiesResponse{Capabilities: caps}, nil
}

// params reads and checks a StorageClass's parameters.
func (c *Controller) params(p map[string]string) (class, options string, err error) {
	for k := range p {
		if strings.HasPrefix(k, c.d.Name+"/") && k != c.d.Param(ParamDeviceClass) && k != c.d.Param(ParamOptionsClass) {
			return "", "", invalid("unknown parameter %q (known: %s, %s)", k, c.d.Param(ParamDeviceClass), c.d.Param(ParamOptionsClass))
		}
	}
	return p[c.d.Param(ParamDeviceClass)], p[c.d.Param(ParamOptionsClass)], nil
}

// createVolume implements CSI's CreateVolume (controller_events.go adds Events).
func (c *Controller) createVolume(ctx context.Context, req *csi.CreateVolumeRequest) (*csi.CreateVolumeResponse, error) {
	if req.GetName() == "" {
		return nil, invalid("name is required")
	}
	if why := c.d.checkCapabilities(req.GetVolumeCapabilities()); why != "" {
		return nil, invalid("%s", why)
	}
	class, options, err := c.params(req.GetParameters())
	if err != nil {
		return nil, err
	}
	fs := c.d.fsType(req.GetVolumeCapabilities())
	size, err := c.d.volumeSize(req.GetCapacityRange(), fs)
	if err != nil {
		return nil, err
	}
	id := c.d.VolumeID(req.GetName())
	defer c.locks.Lock(id)()

	spec := v1.LogicalVolumeSpec{DriverName: c.d.Name, Name: id, DeviceClass: class, OptionsClass: options, Size: *resource.NewQuantity(size, resource.BinarySI)}
	if src := req.GetVolumeContentSource(); src != nil {
		if err := c.fromSource(ctx, src, &spec); err != nil {
			return nil, err
		}
	}
	if existing, err := c.volumes.Get(ctx, id); err == nil {
		if why := incompatible(existing, spec); why != "" {
			return nil, status.Errorf(codes.AlreadyExists, "volume %q exists with %s", req.GetName(), why)
		}
		spec.NodeName = existing.Spec.NodeName
	} else if !apierrors.IsNotFound(err) {
		return nil, toStatus(err)
	}
	if spec.NodeName == "" {
		if spec.NodeName, err = c.pickNode(ctx, req.GetAccessibilityRequirements(), class, options, size); err != nil {
			return nil, err
		}
	}
	lv, err := c.make(ctx, id, spec)
	if err != nil {
		return nil, err
	}
	return &csi.CreateVolumeResponse{Volume: &csi.Volume{
		VolumeId:      id,
		CapacityBytes: currentSize(lv),
		// The node finds the volume in its class with one lookup.
		VolumeContext:      map[string]string{c.d.Param(ParamDeviceClass): lv.Spec.DeviceClass},
		AccessibleTopology: []*csi.Topology{{Segments: map[string]string{c.d.TopologyKey: lv.Spec.NodeName}}},
		ContentSource:      req.GetVolumeContentSource(),
	}}, nil
}

// make creates the LogicalVolume of a new volume or snapshot (with the
// node's finalizer already on it: one API write fewer per volume) and waits
// for the node. When the node could not make it, the object is taken back,
// so that a retry (csi-provisioner reschedules on ResourceExhausted) starts
// clean, and the node's code is returned.
func (c *Controller) make(ctx context.Context, id string, spec v1.LogicalVolumeSpec) (*v1.LogicalVolume, error) {
	lv, err := c.volumes.CreateAndWait(ctx, &v1.LogicalVolume{
		ObjectMeta: metav1.ObjectMeta{Name: id, Finalizers: []string{v1.Finalizer(c.d.Name)}}, Spec: spec,
	})
	if err != nil {
		return nil, toStatus(err)
	}
	if code := lv.Status.Code; code != "" {
		if derr := c.volumes.Delete(ctx, id); derr != nil {
			return nil, toStatus(derr)
		}
		return nil, status.Error(codeOf(code), lv.Status.Message)
	}
	return lv, nil
}

// incompatible says how an existing LogicalVolume differs from a request
// for the same name, or "" when it is the same volume.
func incompatible(lv *v1.LogicalVolume, want v1.LogicalVolumeSpec) string {
	switch {
	case lv.Spec.DriverName != want.DriverName:
		return "driver " + lv.Spec.DriverName
	case lv.Spec.Size.Cmp(want.Size) != 0:
		return "size " + lv.Spec.Size.String()
	case lv.Spec.DeviceClass != want.DeviceClass:
		return "device class " + lv.Spec.DeviceClass
	case lv.Spec.Source != want.Source:
		return "another source"
	}
	return ""
}

// fromSource places a restore or clone on its source's node and class.
func (c *Controller) fromSource(ctx context.Context, src *csi.VolumeContentSource, spec *v1.LogicalVolumeSpec) error {
	var id string
	switch {
	case src.GetSnapshot() != nil:
		id = src.GetSnapshot().GetSnapshotId()
	case src.GetVolume() != nil:
		id = src.GetVolume().GetVolumeId()
	default:
		return invalid("unsupported volume content source")
	}
	if id == "" {
		return invalid("content source without an ID")
	}
	source, err := c.volumes.Get(ctx, id)
	if apierrors.IsNotFound(err) {
		return status.Errorf(codes.NotFound, "source %q not found", id)
	}
	if err != nil {
		return toStatus(err)
	}
	if source.Status.VolumeID == "" {
		return status.Errorf(codes.Unavailable, "source %q is not ready yet", id)
	}
	if source.Spec.Size.Cmp(spec.Size) > 0 {
		return status.Errorf(codes.OutOfRange, "the volume must be at least as large as its source (%s)", source.Spec.Size.String())
	}
	if spec.DeviceClass != "" && spec.DeviceClass != source.Spec.DeviceClass {
		return invalid("a volume made from %q must be in its device class %q", id, source.Spec.DeviceClass)
	}
	spec.NodeName, spec.DeviceClass, spec.Source, spec.AccessType = source.Spec.NodeName, source.Spec.DeviceClass, source.Spec.Name, "rw"
	return nil
}

// pickNode chooses the node: the first preferred, then requisite, topology
// segment that has room; with no requirements (Immediate binding without
// topology), the node with the most room. Room is the node's figure for
// volumes of class made with options class options (a RAID volume takes
// more than its size, and its images need PVs of their own): when no
// candidate has it, the answer is ResourceExhausted before any
// LogicalVolume exists.
func (c *Controller) pickNode(ctx context.Context, ar *csi.TopologyRequirement, class, options string, size int64) (string, error) {
	if _, ok := c.d.CapacityKey(class, options); !ok {
		return "", invalid("lvcreate options class %q: no node can publish its capacity (a name with a dot, or class and options class names too long together)", options)
	}
	// csi-provisioner lists every node in both the preferred and the
	// requisite topology: each is tried, and named in an error, once.
	var candidates []string
	seen := map[string]bool{}
	for _, t := range append(append([]*csi.Topology{}, ar.GetPreferred()...), ar.GetRequisite()...) {
		if n := t.GetSegments()[c.d.TopologyKey]; n != "" && !seen[n] {
			seen[n] = true
			candidates = append(candidates, n)
		}
	}
	if len(candidates) == 0 && len(ar.GetRequisite())+len(ar.GetPreferred()) > 0 {
		return "", invalid("accessibility requirements name no %s segment", c.d.TopologyKey)
	}
	if len(candidates) == 0 {
		nodes, err := c.capacity.Nodes(ctx, class, options)
		if err != nil {
			return "", toStatus(err)
		}
		for n := range nodes {
			candidates = append(candidates, n)
		}
		sort.Slice(candidates, func(i, j int) bool {
			if nodes[candidates[i]] != nodes[candidates[j]] {
				return nodes[candidates[i]] > nodes[candidates[j]]
			}
			return candidates[i] < candidates[j]
		})
	}
	for _, n := range candidates {
		avail, err := c.capacity.Available(ctx, n, class, options)
		if err != nil {
			continue
		}
		if avail >= size {
			return n, nil
		}
	}
	noNode := status.Error(codes.ResourceExhausted, "no node runs "+c.d.Name)
	if len(candidates) == 0 {
		// Every node publishes its default class.
		if all, err := c.capacity.Nodes(ctx, "", ""); err == nil && len(all) == 0 {
			return "", noNode
		}
	}
	// A class or options class no node has is a mistake in the
	// StorageClass, not a lack of room: retrying elsewhere cannot help.
	if err := c.configuredSomewhere(ctx, class, options); err != nil {
		return "", err
	}
	if len(candidates) == 0 {
		return "", noNode
	}
	if options != "" {
		return "", status.Errorf(codes.ResourceExhausted, "no node among %s has room for %d bytes in class %q made with lvcreate options class %q", strings.Join(candidates, ", "), size, class, options)
	}
	return "", status.Errorf(codes.ResourceExhausted, "no node among %s has %d bytes available in class %q", strings.Join(candidates, ", "), size, class)
}

// configuredSomewhere returns InvalidArgument when no node has class (a
// named one) or no node publishes a figure for options in it.
func (c *Controller) configuredSomewhere(ctx context.Context, class, options string) error {
	if class != "" {
		withClass, err := c.capacity.Nodes(ctx, class, "")
		if err != nil {
			return toStatus(err)
		}
		if len(withClass) == 0 {
			return invalid("device class %q is not configured on any node of %s", class, c.d.Name)
		}
	}
	if options != "" {
		withOptions, err := c.capacity.Nodes(ctx, class, options)
		if err != nil {
			return toStatus(err)
		}
		if len(withOptions) == 0 {
			return invalid("lvcreate options class %q is not configured for class %q on any node of %s", options, class, c.d.Name)
		}
	}
	return nil
}

func currentSize(lv *v1.LogicalVolume) int64 {
	if lv.Status.CurrentSize != nil {
		return lv.Status.CurrentSize.Value()
	}
	return lv.Spec.Size.Value()
}

// codeOf reads a code name written by a node (status.code).
func codeOf(name string) codes.Code {
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		if c.String() == name {
			return c
		}
	}
	return codes.Internal
}

// DeleteVolume implements CSI; deleting a missing volume succeeds.
func (c *Controller) DeleteVolume(ctx context.Context, req *csi.DeleteVolumeRequest) (*csi.DeleteVolumeResponse, error) {
	id := req.GetVolumeId()
	if id == "" {
		return nil, invalid("volume ID is required")
	}
	defer c.locks.Lock(id)()
	if err := c.volumes.Delete(ctx, id); err != nil {
		return nil, toStatus(err)
	}
	return &csi.DeleteVolumeResponse{}, nil
}

// controllerExpandVolume implements CSI's ControllerExpandVolume
// (controller_events.go adds Events).
func (c *Controller) controllerExpandVolume(ctx context.Context, req *csi.ControllerExpandVolumeRequest) (*csi.ControllerExpandVolumeResponse, error) {
	id := req.GetVolumeId()
	if id == "" {
		return nil, invalid("volume ID is required")
	}
	if req.GetCapacityRange() == nil {
		return nil, invalid("capacity range is required")
	}
	defer c.locks.Lock(id)()
	lv, err := c.volumes.Get(ctx, id)
	if err != nil {
		return nil, toStatus(err)
	}
	block := req.GetVolumeCapability().GetBlock() != nil
	size, err := c.d.volumeSize(req.GetCapacityRange(), "")
	if err != nil {
		return nil, err
	}
	if size <= currentSize(lv) {
		return &csi.ControllerExpandVolumeResponse{CapacityBytes: currentSize(lv), NodeExpansionRequired: !block && c.d.Block}, nil
	}
	lv, err = c.volumes.ResizeAndWait(ctx, id, *resource.NewQuantity(size, resource.BinarySI))
	if err != nil {
		return nil, toStatus(err)
	}
	if code := lv.Status.Code; code != "" {
		c := codeOf(code)
		if c == codes.ResourceExhausted {
			// The node has no room for this size: the CSI spec's answer
			// is OUT_OF_RANGE (a capacity the plugin cannot give). It is
			// also what lets Kubernetes recover: csi-resizer takes
			// RESOURCE_EXHAUSTED for "maybe still in progress" and keeps
			// retrying the size, and lets the user lower the claim's
			// request only after an infeasible answer.
			c = codes.OutOfRange
		}
		return nil, status.Error(c, lv.Status.Message)
	}
	// A filesystem on an LV must be grown by the node; a btrfs subvolume's
	// size is its quota limit, which the node already raised.
	return &csi.ControllerExpandVolumeResponse{CapacityBytes: currentSize(lv), NodeExpansionRequired: !block && c.d.Block}, nil
}

// ValidateVolumeCapabilities implements CSI.
func (c *Controller) ValidateVolumeCapabilities(ctx context.Context, req *csi.ValidateVolumeCapabilitiesRequest) (*csi.ValidateVolumeCapabilitiesResponse, error) {
	if req.GetVolumeId() == "" {
		return nil, invalid("volume ID is required")
	}
	if len(req.GetVolumeCapabilities()) == 0 {
		return nil, invalid("volume capabilities are required")
	}
	if _, err := c.volumes.Get(ctx, req.GetVolumeId()); err != nil {
		return nil, toStatus(err)
	}
	if why := c.d.checkCapabilities(req.GetVolumeCapabilities()); why != "" {
		return &csi.ValidateVolumeCapabilitiesResponse{Message: why}, nil
	}
	return &csi.ValidateVolumeCapabilitiesResponse{Confirmed: &csi.ValidateVolumeCapabilitiesResponse_Confirmed{
		VolumeContext: req.GetVolumeContext(), VolumeCapabilities: req.GetVolumeCapabilities(), Parameters: req.GetParameters(),
	}}, nil
}

// GetCapacity implements CSI: the room of one topology segment (a node), or
// the largest of all nodes when no segment is given; with an lvcreate
// options class, the largest volume made with it (its images and
// metadata counted, on PVs of their own).
func (c *Controller) GetCapacity(ctx context.Context, req *csi.GetCapacityRequest) (*csi.GetCapacityResponse, error) {
	class, options, err := c.params(req.GetParameters())
	if err != nil {
		return nil, err
	}
	if caps := req.GetVolumeCapabilities(); len(caps) > 0 {
		if why := c.d.checkCapabilities(caps); why != "" {
			return &csi.GetCapacityResponse{}, nil
		}
	}
	var avail int64
	if node := req.GetAccessibleTopology().GetSegments()[c.d.TopologyKey]; node != "" {
		avail, err = c.capacity.Available(ctx, node, class, options)
		if apierrors.IsNotFound(err) {
			avail, err = 0, nil
		}
	} else if req.GetAccessibleTopology() != nil {
		avail = 0 // a segment of another topology: nothing of ours there
	} else {
		var nodes map[string]int64
		nodes, err = c.capacity.Nodes(ctx, class, options)
		for _, a := range nodes {
			avail = max(avail, a)
		}
	}
	if err != nil {
		return nil, toStatus(err)
	}
	return &csi.GetCapacityResponse{AvailableCapacity: avail, MaximumVolumeSize: wrapInt64(avail)}, nil
}
