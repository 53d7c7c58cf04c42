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
	"google.golang.org/grpc/status"

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
	// The daemon's health message is passed on as it is; the node words
	// what it finds itself.
	for id, want := range map[string]*csi.VolumeCondition{
		"ok":      {Message: "healthy"},
		"nodev":   {Abnormal: true, Message: "the volume's device or directory is missing: stat " + dir + "/missing: no such file or directory"},
		"partial": {Abnormal: true, Message: partial.HealthMessage},
		"gone":    {Abnormal: true, Message: `the volume was removed outside topols.io while published here: volume "gone" is not on node n1`},
	} {
		resp, err := n.NodeGetVolumeStats(context.Background(), &csi.NodeGetVolumeStatsRequest{VolumeId: id, VolumePath: dir})
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if got := resp.VolumeCondition; got.Abnormal != want.Abnormal || got.Message != want.Message {
			t.Errorf("%s: condition %v, want %v", id, got, want)
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

// countingDaemon counts lookups and listings over listDaemon, and records
// what was looked up as "class/name"; strict finds a volume only in its
// own class.
type countingDaemon struct {
	listDaemon
	gets, lists int
	looked      []string
	strict      bool
}

func (d *countingDaemon) ListVolumes(ctx context.Context, r *api.ListVolumesRequest, o ...grpc.CallOption) (*api.ListVolumesResponse, error) {
	d.lists++
	return d.listDaemon.ListVolumes(ctx, r, o...)
}

func (d *countingDaemon) GetVolume(ctx context.Context, r *api.GetVolumeRequest, o ...grpc.CallOption) (*api.VolumeResponse, error) {
	d.gets++
	d.looked = append(d.looked, r.GetDeviceClass()+"/"+r.GetName())
	resp, _ := d.listDaemon.GetVolume(ctx, r, o...)
	if resp == nil || d.strict && resp.GetVolume().GetDeviceClass() != r.GetDeviceClass() {
		return nil, status.Errorf(codes.NotFound, "no volume %q", r.GetName())
	}
	return resp, nil
}

// okPublisher publishes and unpublishes anything.
type okPublisher struct{ Publisher }

func (okPublisher) Unpublish(context.Context, string) error { return nil }

func (okPublisher) Publish(context.Context, *api.Volume, string, *csi.VolumeCapability, bool) error {
	return nil
}

// A publish whose volume context names the device class (CreateVolume puts
// it there) looks the volume up in it; one without, or when the lookup
// fails, finds it in the node's list.
func TestNodePublishFindsTheVolume(t *testing.T) {
	dir := t.TempDir()
	d := LVMDriver("topolvm.io")
	vol := &api.Volume{Name: "pvc-1", Path: "/dev/loop9", Health: api.VolumeHealth_VOLUME_HEALTH_HEALTHY}
	mount := &csi.VolumeCapability{AccessType: &csi.VolumeCapability_Mount{Mount: &csi.VolumeCapability_MountVolume{FsType: "ext4"}},
		AccessMode: &csi.VolumeCapability_AccessMode{Mode: csi.VolumeCapability_AccessMode_SINGLE_NODE_WRITER}}
	for _, tc := range []struct {
		what        string
		context     map[string]string
		gets, lists int
	}{
		{"class recorded", map[string]string{d.Param(ParamDeviceClass): "ssd"}, 1, 0},
		{"default class recorded", map[string]string{d.Param(ParamDeviceClass): ""}, 1, 0},
		{"no class (an older volume)", nil, 0, 1},
	} {
		daemon := &countingDaemon{listDaemon: listDaemon{vols: []*api.Volume{vol}}}
		n := NewNode(d, "n1", daemon, okPublisher{}, dir, logr.Discard())
		_, err := n.NodePublishVolume(context.Background(), &csi.NodePublishVolumeRequest{
			VolumeId: "pvc-1", TargetPath: dir + "/target", VolumeCapability: mount, VolumeContext: tc.context})
		if err != nil {
			t.Fatalf("%s: %v", tc.what, err)
		}
		if daemon.gets != tc.gets || daemon.lists != tc.lists {
			t.Errorf("%s: %d lookups and %d listings, want %d and %d", tc.what, daemon.gets, daemon.lists, tc.gets, tc.lists)
		}
	}
	// Not where the context says: found in the list all the same.
	daemon := &countingDaemon{listDaemon: listDaemon{vols: []*api.Volume{{Name: "other", Path: "/dev/loop8"}}}}
	n := NewNode(d, "n1", daemon, okPublisher{}, dir, logr.Discard())
	_, err := n.NodePublishVolume(context.Background(), &csi.NodePublishVolumeRequest{
		VolumeId: "pvc-1", TargetPath: dir + "/target", VolumeCapability: mount, VolumeContext: map[string]string{d.Param(ParamDeviceClass): "ssd"}})
	if code(err) != codes.NotFound || daemon.gets != 1 || daemon.lists != 1 {
		t.Errorf("missing volume: %v after %d lookups and %d listings, want NotFound after 1 and 1", err, daemon.gets, daemon.lists)
	}
}

// ephemeralDaemon makes and removes volumes over countingDaemon, recording
// the removals as "class/name"; a create of a class in fail fails so.
type ephemeralDaemon struct {
	countingDaemon
	removed []string
	fail    map[string]error
}

func (d *ephemeralDaemon) CreateVolume(_ context.Context, r *api.CreateVolumeRequest, _ ...grpc.CallOption) (*api.VolumeResponse, error) {
	if err := d.fail[r.GetDeviceClass()]; err != nil {
		return nil, err
	}
	v := &api.Volume{Name: r.GetName(), DeviceClass: r.GetDeviceClass(), Path: "/dev/loop7", Health: api.VolumeHealth_VOLUME_HEALTH_HEALTHY}
	d.vols = append(d.vols, v)
	return &api.VolumeResponse{Volume: v}, nil
}

func (d *ephemeralDaemon) RemoveVolume(_ context.Context, r *api.RemoveVolumeRequest, _ ...grpc.CallOption) (*api.RemoveVolumeResponse, error) {
	d.removed = append(d.removed, r.GetDeviceClass()+"/"+r.GetName())
	d.vols = slices.DeleteFunc(d.vols, func(v *api.Volume) bool { return v.Name == r.GetName() })
	return &api.RemoveVolumeResponse{}, nil
}

// Unpublishing, every pod's teardown, lists the daemon's volumes only until
// the node knows its ephemeral volumes (one listing, normally the start's
// clean-up); then it removes exactly the ephemeral ones, in their class.
func TestNodeUnpublishKnowsItsEphemeralVolumes(t *testing.T) {
	dir := t.TempDir()
	d := LVMDriver("topolvm.io")
	daemon := &ephemeralDaemon{countingDaemon: countingDaemon{listDaemon: listDaemon{vols: []*api.Volume{
		{Name: "pvc-1", DeviceClass: "ssd"},
		{Name: d.EphemeralName("csi-old"), DeviceClass: "hdd"}, // published before a restart
	}}}}
	n := NewNode(d, "n1", daemon, okPublisher{}, dir, logr.Discard())
	unpublish := func(id string) {
		t.Helper()
		if _, err := n.NodeUnpublishVolume(context.Background(), &csi.NodeUnpublishVolumeRequest{VolumeId: id, TargetPath: dir + "/" + id}); err != nil {
			t.Fatalf("unpublish %s: %v", id, err)
		}
	}
	unpublish("pvc-1")
	unpublish("pvc-2")
	if daemon.lists != 1 || len(daemon.removed) != 0 {
		t.Fatalf("two persistent unpublishes: %d listings, removed %v; want 1 listing and nothing removed", daemon.lists, daemon.removed)
	}
	mount := &csi.VolumeCapability{AccessType: &csi.VolumeCapability_Mount{Mount: &csi.VolumeCapability_MountVolume{FsType: "ext4"}},
		AccessMode: &csi.VolumeCapability_AccessMode{Mode: csi.VolumeCapability_AccessMode_SINGLE_NODE_WRITER}}
	if _, err := n.NodePublishVolume(context.Background(), &csi.NodePublishVolumeRequest{VolumeId: "csi-new", TargetPath: dir + "/csi-new",
		VolumeCapability: mount, VolumeContext: map[string]string{ParamEphemeral: "true", d.Param(ParamDeviceClass): "ssd"}}); err != nil {
		t.Fatal(err)
	}
	unpublish("csi-new")
	unpublish("csi-old")
	unpublish("csi-old") // a retry: already removed

	// A create whose outcome is unknown (it timed out) may still be made:
	// its unpublish removes it. One refused for good leaves nothing.
	daemon.fail = map[string]error{
		"slow": status.Error(codes.DeadlineExceeded, "timed out"),
		"bad":  status.Error(codes.InvalidArgument, "no such class"),
	}
	for _, class := range []string{"slow", "bad"} {
		id := "csi-" + class
		_, err := n.NodePublishVolume(context.Background(), &csi.NodePublishVolumeRequest{VolumeId: id, TargetPath: dir + "/" + id,
			VolumeCapability: mount, VolumeContext: map[string]string{ParamEphemeral: "true", d.Param(ParamDeviceClass): class}})
		if code(err) != status.Code(daemon.fail[class]) {
			t.Fatalf("publish in class %s: %v", class, err)
		}
		unpublish(id)
	}
	want := []string{"ssd/" + d.EphemeralName("csi-new"), "hdd/" + d.EphemeralName("csi-old"), "slow/" + d.EphemeralName("csi-slow")}
	if daemon.lists != 1 || !slices.Equal(daemon.removed, want) {
		t.Errorf("after the ephemeral unpublishes: %d listings, removed %v; want 1 listing and %v", daemon.lists, daemon.removed, want)
	}
}

// The kubelet asks every volume's stats every minute: a volume is read with
// one lookup, and the node's volumes are listed only for one not found so,
// which is then looked up in the class it was found in.
func TestNodeStatsLookUpBeforeListing(t *testing.T) {
	dir := t.TempDir()
	d := BtrfsDriver("topols.io")
	eph := d.EphemeralName("csi-e")
	daemon := &countingDaemon{strict: true, listDaemon: listDaemon{vols: []*api.Volume{
		{Name: "pvc-1", Path: dir, Health: api.VolumeHealth_VOLUME_HEALTH_HEALTHY},
		{Name: "pvc-hdd", DeviceClass: "hdd", Path: dir, Health: api.VolumeHealth_VOLUME_HEALTH_HEALTHY},
		{Name: eph, DeviceClass: "fast", Path: dir, Health: api.VolumeHealth_VOLUME_HEALTH_HEALTHY},
	}}}
	n := NewNode(d, "n1", daemon, NewDirPublisher(nil), dir, logr.Discard())
	n.eph.add(eph, "fast")
	for _, tc := range []struct {
		id          string
		gets, lists int
	}{{"pvc-1", 1, 0}, {"csi-e", 2, 0}, {"pvc-hdd", 4, 1}, {"pvc-hdd", 5, 1}, {"pvc-gone", 6, 2}} {
		if _, err := n.NodeGetVolumeStats(context.Background(), &csi.NodeGetVolumeStatsRequest{VolumeId: tc.id, VolumePath: dir}); err != nil {
			t.Fatalf("%s: %v", tc.id, err)
		}
		if daemon.gets != tc.gets || daemon.lists != tc.lists {
			t.Errorf("%s: %d lookups and %d listings so far, want %d and %d", tc.id, daemon.gets, daemon.lists, tc.gets, tc.lists)
		}
	}
	// The default class for a persistent volume until it was found in
	// another, the index's for an ephemeral one.
	if want := []string{"/pvc-1", "fast/" + eph, "/pvc-hdd", "hdd/pvc-hdd", "hdd/pvc-hdd", "/pvc-gone"}; !slices.Equal(daemon.looked, want) {
		t.Errorf("looked up %v, want %v", daemon.looked, want)
	}
}
