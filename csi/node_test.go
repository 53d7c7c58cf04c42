package csi

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"github.com/go-logr/logr"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	api "github.com/toposuite/toposuite/internal/daemonapi"
)

// listDaemon is a storage daemon client that knows a fixed list of volumes;
// the node's conditions are tested over it, the daemons for real elsewhere.
type listDaemon struct {
	api.StorageDaemonClient
	vols []*api.Volume
}

func (d listDaemon) ListVolumes(context.Context, *api.ListVolumesRequest, ...grpc.CallOption) (*api.ListVolumesResponse, error) {
	return &api.ListVolumesResponse{Volumes: d.vols}, nil
}

func (d listDaemon) GetVolume(_ context.Context, r *api.GetVolumeRequest, _ ...grpc.CallOption) (*api.VolumeResponse, error) {
	for _, v := range d.vols {
		if v.Name == r.Name {
			return &api.VolumeResponse{Volume: v}, nil
		}
	}
	return nil, nil
}

func TestVolumeStatsConditions(t *testing.T) {
	dir := t.TempDir()
	healthy := &api.Volume{Name: "ok", Path: dir, SizeBytes: 1 << 20, Health: api.VolumeHealth_VOLUME_HEALTH_HEALTHY}
	noDevice := &api.Volume{Name: "nodev", Path: dir + "/missing", Health: api.VolumeHealth_VOLUME_HEALTH_HEALTHY}
	partial := &api.Volume{Name: "partial", Path: dir, Health: api.VolumeHealth_VOLUME_HEALTH_ABNORMAL, HealthMessage: "partial: one or more physical volumes are missing"}
	n := NewNode(BtrfsDriver("topols.io"), "n1", listDaemon{vols: []*api.Volume{healthy, noDevice, partial}}, NewDirPublisher(nil), dir, logr.Discard())
	for id, want := range map[string]bool{"ok": false, "nodev": true, "partial": true, "gone": true} {
		resp, err := n.NodeGetVolumeStats(context.Background(), &csi.NodeGetVolumeStatsRequest{VolumeId: id, VolumePath: dir})
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if resp.VolumeCondition.Abnormal != want {
			t.Errorf("%s: condition %v, want abnormal=%v", id, resp.VolumeCondition, want)
		}
	}
	_, err := n.NodeGetVolumeStats(context.Background(), &csi.NodeGetVolumeStatsRequest{VolumeId: "ok", VolumePath: dir + "/nope"})
	if code(err) != codes.NotFound {
		t.Errorf("missing volume path: %v, want NotFound", err)
	}
}

// stubPublisher unpublishes with a set outcome.
type stubPublisher struct {
	Publisher
	err error
}

func (p stubPublisher) Unpublish(context.Context, string) error { return p.err }

// The node tells who listens which volume it unpublished, and only when it
// did: the reconciler then retries a removal it refused while in use.
func TestNodeTellsUnpublished(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		err  error
		want []string
	}{{nil, []string{"vol-1"}}, {errors.New("target is busy"), nil}} {
		n := NewNode(LVMDriver("topolvm.io"), "n1", listDaemon{}, stubPublisher{err: tc.err}, dir, logr.Discard())
		var got []string
		n.OnUnpublished(func(id string) { got = append(got, id) })
		_, err := n.NodeUnpublishVolume(context.Background(), &csi.NodeUnpublishVolumeRequest{VolumeId: "vol-1", TargetPath: dir + "/target"})
		if (err != nil) != (tc.err != nil) {
			t.Fatalf("unpublish: %v, want error %v", err, tc.err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("unpublish failing with %v: told %v, want %v", tc.err, got, tc.want)
		}
	}
}
