package csi

import (
	"context"
	"fmt"
	"strings"

	"github.com/container-storage-interface/spec/lib/go/csi"
	mount "k8s.io/mount-utils"

	api "github.com/toposuite/toposuite/internal/daemonapi"
)

// CleanupEphemeral removes inline ephemeral volumes that nothing mounts any
// more: left behind when the plugin was down while their pod went away. It
// runs at start, before the plugin serves, and fills the index of the
// ephemeral volumes that unpublishing consults.
func (n *Node) CleanupEphemeral(ctx context.Context) error {
	list, err := n.daemon.ListVolumes(ctx, &api.ListVolumesRequest{})
	if err != nil {
		return err
	}
	mounts, err := mount.ParseMountInfo("/proc/self/mountinfo")
	if err != nil {
		return fmt.Errorf("read mounts: %w", err)
	}
	n.eph.fill(n.d, list.GetVolumes())
	for _, v := range list.GetVolumes() {
		if !n.d.IsEphemeralName(v.GetName()) || inUse(v, mounts) {
			continue
		}
		if _, err := n.daemon.RemoveVolume(ctx, &api.RemoveVolumeRequest{Name: v.GetName(), DeviceClass: v.GetDeviceClass()}); err != nil {
			return fmt.Errorf("remove leftover ephemeral volume %s: %w", v.GetName(), err)
		}
		n.eph.remove(v.GetName())
		n.log.Info("removed leftover ephemeral volume", "name", v.GetName())
	}
	return nil
}

// inUse reports whether a mount shows the volume, by name or, for a
// volume on a block device, by device number (publications): on
// device-mapper the mount table never shows the path LVM reports.
func inUse(v *api.Volume, mounts []mount.MountInfo) bool { return len(publications(v, mounts)) > 0 }

// mountPoints lists where the volume is mounted: its device as a mount
// source (LVM), or its directory as a bind mount's root (btrfs).
func mountPoints(v *api.Volume, mounts []mount.MountInfo) []string {
	var out []string
	for _, m := range mounts {
		if m.Source == v.GetPath() || strings.HasSuffix(m.Root, "/"+v.GetName()) {
			out = append(out, m.MountPoint)
		}
	}
	return out
}

// EphemeralSize is the size of the volume NodePublishVolume makes for an
// inline ephemeral volume with these volume attributes and filesystem
// ("" for block): the size attribute (a quantity, default DefaultSize)
// raised to the filesystem's minimum and rounded like CreateVolume rounds.
// The pod webhook counts the same bytes. A size that is not a positive
// quantity no larger than the largest volume is InvalidArgument, naming it.
func (d Driver) EphemeralSize(attrs map[string]string, fsType string) (int64, error) {
	size := d.DefaultSize
	if s := attrs[ParamSize]; s != "" {
		var err error
		if size, err = parseSize(s); err != nil {
			return 0, err
		}
	}
	return d.VolumeBytes(size, 0, fsType)
}

// VolumeBytes is the size of the volume CreateVolume makes for a capacity
// range (required and limit bytes, 0 when unset: a PVC's storage request
// and limit, as csi-provisioner passes them) and filesystem ("" for
// block), so that the pod webhook counts what the node will really take.
func (d Driver) VolumeBytes(required, limit int64, fsType string) (int64, error) {
	return d.volumeSize(&csi.CapacityRange{RequiredBytes: required, LimitBytes: limit}, fsType)
}
