package csi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"github.com/go-logr/logr"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	mount "k8s.io/mount-utils"

	api "github.com/toposuite/toposuite/internal/daemonapi"
	"github.com/toposuite/toposuite/internal/keylock"
)

// Node implements the CSI Node service of one driver on one node.
type Node struct {
	csi.UnimplementedNodeServer
	d        Driver
	nodeName string
	daemon   api.StorageDaemonClient
	pub      Publisher
	// targetRoot is where the kubelet puts target paths; requests for
	// paths elsewhere are refused.
	targetRoot string
	locks      keylock.Map
	log        logr.Logger
	// unpublished, when set, hears of every volume unpublished here.
	unpublished func(volumeID string)
	eph         ephemeralIndex
	// classOf remembers the device class each published volume was found
	// in (CSI volume ID -> class), so that its stats read it there.
	classOf sync.Map
}

// NewNode returns the Node service.
func NewNode(d Driver, nodeName string, daemon api.StorageDaemonClient, pub Publisher, targetRoot string, log logr.Logger) *Node {
	return &Node{d: d, nodeName: nodeName, daemon: daemon, pub: pub, targetRoot: filepath.Clean(targetRoot), log: log}
}

// OnUnpublished makes the node call f with the ID of every volume it has
// unpublished (f must not block): the node plugin's reconciler retries at
// once a removal it had to refuse while the volume was in use.
func (n *Node) OnUnpublished(f func(volumeID string)) { n.unpublished = f }

// EphemeralName is the daemon name of a CSI inline ephemeral volume: the
// kubelet picks its volume ID; the prefix tells the node's clean-up at
// start which volumes are ephemeral.
func (d Driver) EphemeralName(volumeID string) string {
	sum := sha256.Sum256([]byte(volumeID))
	return d.ShortName() + "-eph-" + hex.EncodeToString(sum[:])[:40]
}

// IsEphemeralName tells an ephemeral volume's daemon name.
func (d Driver) IsEphemeralName(name string) bool {
	return strings.HasPrefix(name, d.ShortName()+"-eph-")
}

// NodeGetInfo implements CSI.
func (n *Node) NodeGetInfo(context.Context, *csi.NodeGetInfoRequest) (*csi.NodeGetInfoResponse, error) {
	return &csi.NodeGetInfoResponse{
		NodeId:             n.nodeName,
		AccessibleTopology: &csi.Topology{Segments: map[string]string{n.d.TopologyKey: n.nodeName}},
	}, nil
}

// NodeGetCapabilities implements CSI.
func (n *Node) NodeGetCapabilities(context.Context, *csi.NodeGetCapabilitiesRequest) (*csi.NodeGetCapabilitiesResponse, error) {
	var caps []*csi.NodeServiceCapability
	for _, t := range []csi.NodeServiceCapability_RPC_Type{
		csi.NodeServiceCapability_RPC_GET_VOLUME_STATS,
		csi.NodeServiceCapability_RPC_EXPAND_VOLUME,
		csi.NodeServiceCapability_RPC_VOLUME_CONDITION,
		csi.NodeServiceCapability_RPC_SINGLE_NODE_MULTI_WRITER,
	} {
		caps = append(caps, &csi.NodeServiceCapability{Type: &csi.NodeServiceCapability_Rpc{Rpc: &csi.NodeServiceCapability_RPC{Type: t}}})
	}
	return &csi.NodeGetCapabilitiesResponse{Capabilities: caps}, nil
}

// checkTarget refuses target paths outside the kubelet's directory: a
// broken or hostile caller must not make the plugin mount over /etc.
func (n *Node) checkTarget(p string) error {
	if p == "" {
		return invalid("target path is required")
	}
	if !filepath.IsAbs(p) || filepath.Clean(p) != p {
		return invalid("target path %q must be a clean absolute path", p)
	}
	if n.targetRoot != "/" && !strings.HasPrefix(p, n.targetRoot+"/") {
		return invalid("target path %q is outside %s", p, n.targetRoot)
	}
	return nil
}

// volume finds a volume in the daemon by CSI volume ID, in any class.
func (n *Node) volume(ctx context.Context, id string) (*api.Volume, error) {
	list, err := n.daemon.ListVolumes(ctx, &api.ListVolumesRequest{})
	if err != nil {
		return nil, toStatus(err)
	}
	eph := n.d.EphemeralName(id)
	for _, v := range list.GetVolumes() {
		if v.GetName() == id || v.GetName() == eph {
			return v, nil
		}
	}
	return nil, status.Errorf(codes.NotFound, "volume %q is not on node %s", id, n.nodeName)
}

// published returns the volume a publish names: in its device class when
// CreateVolume recorded the class in the volume context (one daemon lookup;
// a burst of publishes would otherwise list every volume of the node each),
// else, or when it is not there, found among all of them.
func (n *Node) published(ctx context.Context, id string, vc map[string]string) (*api.Volume, error) {
	if class, ok := vc[n.d.Param(ParamDeviceClass)]; ok {
		if resp, err := n.daemon.GetVolume(ctx, &api.GetVolumeRequest{Name: id, DeviceClass: class}); err == nil && resp.GetVolume() != nil {
			n.classOf.Store(id, resp.GetVolume().GetDeviceClass())
			return resp.GetVolume(), nil
		}
	}
	vol, err := n.volume(ctx, id)
	if err == nil {
		n.classOf.Store(id, vol.GetDeviceClass())
	}
	return vol, err
}

// current returns the volume with CSI volume ID id as the daemon reads it
// now (GetVolume: btrfsd syncs its usage counters first; a listing does
// not). The kubelet asks for every volume's stats every minute, so it is
// looked up where it most likely is — the class the ephemeral index knows
// or it was published in, else the default one — and the daemon's volumes
// are listed only when it is not there.
func (n *Node) current(ctx context.Context, id string) (*api.Volume, error) {
	name, class := id, ""
	if c, found, _ := n.eph.lookup(n.d.EphemeralName(id)); found {
		name, class = n.d.EphemeralName(id), c
	} else if c, ok := n.classOf.Load(id); ok {
		class = c.(string)
	}
	resp, err := n.daemon.GetVolume(ctx, &api.GetVolumeRequest{Name: name, DeviceClass: class})
	switch status.Code(err) {
	case codes.OK:
		if resp.GetVolume() != nil {
			return resp.GetVolume(), nil
		}
	case codes.NotFound, codes.InvalidArgument: // elsewhere, or no default class
	default:
		return nil, err
	}
	vol, err := n.volume(ctx, id)
	if err != nil {
		return nil, err
	}
	fresh, err := n.daemon.GetVolume(ctx, &api.GetVolumeRequest{Name: vol.GetName(), DeviceClass: vol.GetDeviceClass()})
	if err != nil {
		return nil, toStatus(err)
	}
	if vol.GetName() == id {
		n.classOf.Store(id, vol.GetDeviceClass())
	}
	return fresh.GetVolume(), nil
}

// NodePublishVolume implements CSI.
func (n *Node) NodePublishVolume(ctx context.Context, req *csi.NodePublishVolumeRequest) (*csi.NodePublishVolumeResponse, error) {
	id := req.GetVolumeId()
	if id == "" {
		return nil, invalid("volume ID is required")
	}
	if err := n.checkTarget(req.GetTargetPath()); err != nil {
		return nil, err
	}
	if why := n.d.checkCapability(req.GetVolumeCapability()); why != "" {
		return nil, invalid("%s", why)
	}
	defer n.locks.Lock(id)()
	var vol *api.Volume
	var err error
	if req.GetVolumeContext()[ParamEphemeral] == "true" {
		vol, err = n.createEphemeral(ctx, id, req)
	} else {
		vol, err = n.published(ctx, id, req.GetVolumeContext())
	}
	if err != nil {
		return nil, err
	}
	if vol.GetPath() == "" {
		return nil, status.Errorf(codes.FailedPrecondition, "volume %q has no device or directory on this node (%s)", id, vol.GetHealthMessage())
	}
	if req.GetVolumeCapability().GetAccessMode().GetMode() == csi.VolumeCapability_AccessMode_SINGLE_NODE_SINGLE_WRITER {
		if err := n.onlyTarget(vol, req.GetTargetPath()); err != nil {
			return nil, err
		}
	}
	if err := n.pub.Publish(ctx, vol, req.GetTargetPath(), req.GetVolumeCapability(), req.GetReadonly()); err != nil {
		return nil, toStatus(err)
	}
	return &csi.NodePublishVolumeResponse{}, nil
}

// onlyTarget refuses a second publication of a single-writer volume.
func (n *Node) onlyTarget(vol *api.Volume, target string) error {
	mounts, err := mount.ParseMountInfo("/proc/self/mountinfo")
	if err != nil {
		return toStatus(err)
	}
	for _, mp := range publications(vol, mounts) {
		if mp != target && strings.HasPrefix(mp, n.targetRoot+"/") {
			return status.Errorf(codes.FailedPrecondition, "volume %q is single-writer and already published at %s", vol.GetName(), mp)
		}
	}
	return nil
}

// publications are the mount points of a volume: mountPoints (its device
// path as the mount source, or a directory volume's root), and, for a
// volume on a block device, the mounts of that device found by number and
// the binds of its device node. The mount table names a device-mapper
// device /dev/mapper/<vg>-<lv>, not the /dev/<vg>/<lv> LVM reports; btrfs
// shows an anonymous device number, not the disk's; and a raw block
// publication is a bind of a devtmpfs node (its root is the node's path
// under /dev). Only paths under /dev are looked at: a stat of a mount
// point could hang on a dead network filesystem.
func publications(vol *api.Volume, mounts []mount.MountInfo) []string {
	out := mountPoints(vol, mounts)
	var st unix.Stat_t
	if vol.GetPath() == "" || unix.Stat(vol.GetPath(), &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return out
	}
	isDev := func(p string) bool {
		var d unix.Stat_t
		return strings.HasPrefix(p, "/dev/") && unix.Stat(p, &d) == nil && d.Mode&unix.S_IFMT == unix.S_IFBLK && d.Rdev == st.Rdev
	}
	for _, m := range mounts {
		sameDev := m.Major == int(unix.Major(st.Rdev)) && m.Minor == int(unix.Minor(st.Rdev))
		bind := m.FsType == "devtmpfs" && isDev(filepath.Join("/dev", m.Root))
		if (sameDev || isDev(m.Source) || bind) && !slices.Contains(out, m.MountPoint) {
			out = append(out, m.MountPoint)
		}
	}
	return out
}

// createEphemeral makes the volume of a CSI inline ephemeral volume from
// its attributes (size, device class); a retried publish finds it.
func (n *Node) createEphemeral(ctx context.Context, id string, req *csi.NodePublishVolumeRequest) (*api.Volume, error) {
	attrs := req.GetVolumeContext()
	// The pod webhook counts the same size (Driver.EphemeralSize).
	size, err := n.d.EphemeralSize(attrs, n.d.fsType([]*csi.VolumeCapability{req.GetVolumeCapability()}))
	if err != nil {
		return nil, err
	}
	for k := range attrs {
		if strings.HasPrefix(k, n.d.Name+"/") && k != n.d.Param(ParamDeviceClass) {
			return nil, invalid("unknown volume attribute %q", k)
		}
	}
	name, class := n.d.EphemeralName(id), attrs[n.d.Param(ParamDeviceClass)]
	// Indexed before it is asked for: a create that times out here may
	// still complete in the daemon, and the kubelet's unpublish must then
	// remove it (removing a volume that does not exist succeeds). A create
	// refused for good leaves nothing to remove.
	_, known, _ := n.eph.lookup(name)
	n.eph.add(name, class)
	resp, err := n.daemon.CreateVolume(ctx, &api.CreateVolumeRequest{Name: name, DeviceClass: class, SizeBytes: size})
	if err != nil {
		if c := status.Code(err); !known && c != codes.DeadlineExceeded && c != codes.Canceled && c != codes.Unavailable {
			n.eph.remove(name)
		}
		return nil, toStatus(err)
	}
	n.log.Info("created inline ephemeral volume", "volumeID", id, "name", resp.GetVolume().GetName(), "sizeBytes", size)
	return resp.GetVolume(), nil
}

// NodeUnpublishVolume implements CSI; an ephemeral volume is removed with
// its last publication.
func (n *Node) NodeUnpublishVolume(ctx context.Context, req *csi.NodeUnpublishVolumeRequest) (*csi.NodeUnpublishVolumeResponse, error) {
	id := req.GetVolumeId()
	if id == "" {
		return nil, invalid("volume ID is required")
	}
	if err := n.checkTarget(req.GetTargetPath()); err != nil {
		return nil, err
	}
	defer n.locks.Lock(id)()
	if err := n.pub.Unpublish(ctx, req.GetTargetPath()); err != nil {
		return nil, toStatus(err)
	}
	n.classOf.Delete(id)
	if n.unpublished != nil {
		n.unpublished(id)
	}
	// An inline ephemeral volume lives as long as its publication; it may
	// be in any class its attributes named, which the index remembers.
	name, class, found, err := n.ephemeral(ctx, id)
	if err != nil {
		return nil, err
	}
	if found {
		if _, err := n.daemon.RemoveVolume(ctx, &api.RemoveVolumeRequest{Name: name, DeviceClass: class}); err != nil {
			return nil, toStatus(err)
		}
		n.eph.remove(name)
		n.log.Info("removed inline ephemeral volume", "volumeID", id, "name", name)
	}
	return &csi.NodeUnpublishVolumeResponse{}, nil
}

// NodeGetVolumeStats implements CSI, with the volume's condition.
func (n *Node) NodeGetVolumeStats(ctx context.Context, req *csi.NodeGetVolumeStatsRequest) (*csi.NodeGetVolumeStatsResponse, error) {
	id, p := req.GetVolumeId(), req.GetVolumePath()
	if id == "" || p == "" {
		return nil, invalid("volume ID and volume path are required")
	}
	if _, err := os.Stat(p); err != nil {
		return nil, status.Errorf(codes.NotFound, "volume path %q: %v", p, err)
	}
	vol, err := n.current(ctx, id)
	if status.Code(err) == codes.NotFound {
		// Published (its path is there), but gone from the node: only
		// something outside the driver removes a published volume (an
		// lvremove at a shell, say); DeleteVolume comes after unpublish.
		// The kubelet reports the condition as an event on the pod; there
		// is nothing to measure.
		return &csi.NodeGetVolumeStatsResponse{VolumeCondition: &csi.VolumeCondition{
			Abnormal: true, Message: fmt.Sprintf("the volume was removed outside %s while published here: %s", n.d.Name, status.Convert(err).Message()),
		}}, nil
	}
	if err != nil {
		return nil, err
	}
	cond := &csi.VolumeCondition{Message: "healthy"}
	if vol.GetHealth() != api.VolumeHealth_VOLUME_HEALTH_HEALTHY {
		cond = &csi.VolumeCondition{Abnormal: true, Message: vol.GetHealthMessage()}
	} else if _, err := os.Stat(vol.GetPath()); err != nil {
		cond = &csi.VolumeCondition{Abnormal: true, Message: "the volume's device or directory is missing: " + err.Error()}
	}
	usage, err := n.pub.Stats(ctx, vol, p)
	if err != nil {
		return nil, toStatus(err)
	}
	return &csi.NodeGetVolumeStatsResponse{Usage: usage, VolumeCondition: cond}, nil
}

// NodeExpandVolume implements CSI: the controller grew the volume; the
// filesystem on it follows here.
func (n *Node) NodeExpandVolume(ctx context.Context, req *csi.NodeExpandVolumeRequest) (*csi.NodeExpandVolumeResponse, error) {
	id, p := req.GetVolumeId(), req.GetVolumePath()
	if id == "" || p == "" {
		return nil, invalid("volume ID and volume path are required")
	}
	if _, err := os.Stat(p); err != nil {
		return nil, status.Errorf(codes.NotFound, "volume path %q: %v", p, err)
	}
	defer n.locks.Lock(id)()
	vol, err := n.volume(ctx, id)
	if err != nil {
		return nil, err
	}
	if req.GetVolumeCapability().GetBlock() == nil {
		if err := n.pub.Expand(ctx, vol, p); err != nil {
			return nil, toStatus(err)
		}
	}
	return &csi.NodeExpandVolumeResponse{CapacityBytes: vol.GetSizeBytes()}, nil
}
