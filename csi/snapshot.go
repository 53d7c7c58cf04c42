package csi

import (
	"context"
	"sort"
	"strconv"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	v1 "github.com/toposuite/toposuite/internal/api/topolvm/v1"
)

func wrapInt64(n int64) *wrapperspb.Int64Value { return wrapperspb.Int64(n) }

// A snapshot is a LogicalVolume with accessType "ro" whose source is the
// volume's daemon name; its ID is its object name, like a volume's.

// CreateSnapshot implements CSI.
func (c *Controller) CreateSnapshot(ctx context.Context, req *csi.CreateSnapshotRequest) (*csi.CreateSnapshotResponse, error) {
	if req.GetName() == "" || req.GetSourceVolumeId() == "" {
		return nil, invalid("name and source volume ID are required")
	}
	id := c.d.VolumeID(req.GetName())
	defer c.locks.Lock(id)()
	source, err := c.volumes.Get(ctx, req.GetSourceVolumeId())
	if apierrors.IsNotFound(err) {
		return nil, status.Errorf(codes.NotFound, "source volume %q not found", req.GetSourceVolumeId())
	}
	if err != nil {
		return nil, toStatus(err)
	}
	spec := v1.LogicalVolumeSpec{
		DriverName: c.d.Name, Name: id, NodeName: source.Spec.NodeName, DeviceClass: source.Spec.DeviceClass,
		Size: source.Spec.Size, Source: source.Spec.Name, AccessType: "ro",
	}
	if existing, err := c.volumes.Get(ctx, id); err == nil {
		if existing.Spec.Source != spec.Source || existing.Spec.AccessType != "ro" {
			return nil, status.Errorf(codes.AlreadyExists, "snapshot %q exists for another source", req.GetName())
		}
	}
	lv, err := c.make(ctx, id, spec)
	if err != nil {
		return nil, err
	}
	return &csi.CreateSnapshotResponse{Snapshot: c.snapshot(lv, req.GetSourceVolumeId())}, nil
}

func (c *Controller) snapshot(lv *v1.LogicalVolume, sourceID string) *csi.Snapshot {
	return &csi.Snapshot{
		SnapshotId: lv.Name, SourceVolumeId: sourceID, SizeBytes: currentSize(lv),
		CreationTime: timestamppb.New(lv.CreationTimestamp.Time), ReadyToUse: lv.Status.VolumeID != "",
	}
}

// DeleteSnapshot implements CSI; a missing snapshot is success.
func (c *Controller) DeleteSnapshot(ctx context.Context, req *csi.DeleteSnapshotRequest) (*csi.DeleteSnapshotResponse, error) {
	id := req.GetSnapshotId()
	if id == "" {
		return nil, invalid("snapshot ID is required")
	}
	defer c.locks.Lock(id)()
	if err := c.volumes.Delete(ctx, id); err != nil {
		return nil, toStatus(err)
	}
	return &csi.DeleteSnapshotResponse{}, nil
}

// ListSnapshots implements CSI, with the optional filters and paging
// (the starting token is an index into the list ordered by ID).
func (c *Controller) ListSnapshots(ctx context.Context, req *csi.ListSnapshotsRequest) (*csi.ListSnapshotsResponse, error) {
	if req.GetMaxEntries() < 0 {
		return nil, invalid("max entries must not be negative")
	}
	lvs, err := c.volumes.List(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	// Snapshots name their source by its daemon name; map it back to the
	// source's volume ID (its object name).
	idOf := map[string]string{}
	for _, lv := range lvs {
		idOf[lv.Spec.Name] = lv.Name
	}
	var snaps []*csi.Snapshot
	for i := range lvs {
		lv := &lvs[i]
		if lv.Spec.AccessType != "ro" {
			continue
		}
		if id := req.GetSnapshotId(); id != "" && lv.Name != id {
			continue
		}
		src := idOf[lv.Spec.Source]
		if s := req.GetSourceVolumeId(); s != "" && src != s {
			continue
		}
		snaps = append(snaps, c.snapshot(lv, src))
	}
	sort.Slice(snaps, func(i, j int) bool { return snaps[i].SnapshotId < snaps[j].SnapshotId })
	start := 0
	if tok := req.GetStartingToken(); tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil || n < 0 || n > len(snaps) {
			return nil, status.Errorf(codes.Aborted, "starting token %q is not valid", tok)
		}
		start = n
	}
	end := len(snaps)
	if m := int(req.GetMaxEntries()); m > 0 && start+m < end {
		end = start + m
	}
	resp := &csi.ListSnapshotsResponse{}
	for _, s := range snaps[start:end] {
		resp.Entries = append(resp.Entries, &csi.ListSnapshotsResponse_Entry{Snapshot: s})
	}
	if end < len(snaps) {
		resp.NextToken = strconv.Itoa(end)
	}
	return resp, nil
}
