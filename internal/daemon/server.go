package daemon

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	api "github.com/toposuite/toposuite/internal/daemonapi"
	"github.com/toposuite/toposuite/internal/storage"
)

// Server implements the StorageDaemon gRPC service over a Backend. It checks
// what every backend needs (a name, a positive size), leaves backend-specific
// rules (name syntax, size limits, classes) to the backend, and maps errors.
type Server struct {
	api.UnimplementedStorageDaemonServer
	backend Backend
	hub     *Hub
	// stopping ends Watch streams when the daemon shuts down, so that a
	// graceful stop does not wait for clients to hang up.
	stopping <-chan struct{}
}

// NewServer returns the service; hub receives a Notify after every change.
// Watch streams end when stopping is closed.
func NewServer(b Backend, hub *Hub, stopping <-chan struct{}) *Server {
	return &Server{backend: b, hub: hub, stopping: stopping}
}

func invalid(msg string) error { return status.Error(codes.InvalidArgument, msg) }

// CreateVolume implements the API.
func (s *Server) CreateVolume(ctx context.Context, r *api.CreateVolumeRequest) (*api.VolumeResponse, error) {
	if r.GetName() == "" {
		return nil, invalid("name is required")
	}
	if r.GetSizeBytes() <= 0 {
		return nil, invalid("size_bytes must be positive")
	}
	if err := storage.ValidateOwnerUID(r.GetOwnerUid()); err != nil {
		return nil, statusFor(err)
	}
	v, err := s.backend.CreateVolume(ctx, storage.CreateRequest{
		Name: r.GetName(), Class: r.GetDeviceClass(), SizeBytes: r.GetSizeBytes(), OptionsClass: r.GetOptionsClass(),
		OwnerUID: r.GetOwnerUid(),
	})
	return s.volumeResult(v, err, true)
}

// CreateSnapshot implements the API.
func (s *Server) CreateSnapshot(ctx context.Context, r *api.CreateSnapshotRequest) (*api.VolumeResponse, error) {
	if r.GetName() == "" || r.GetSourceName() == "" {
		return nil, invalid("name and source_name are required")
	}
	if r.GetSizeBytes() < 0 {
		return nil, invalid("size_bytes must not be negative")
	}
	if err := storage.ValidateOwnerUID(r.GetOwnerUid()); err != nil {
		return nil, statusFor(err)
	}
	v, err := s.backend.CreateSnapshot(ctx, storage.SnapshotRequest{
		Name: r.GetName(), Class: r.GetDeviceClass(), Source: r.GetSourceName(),
		SizeBytes: r.GetSizeBytes(), ReadOnly: r.GetReadOnly(), OwnerUID: r.GetOwnerUid(),
	})
	return s.volumeResult(v, err, true)
}

// ResizeVolume implements the API.
func (s *Server) ResizeVolume(ctx context.Context, r *api.ResizeVolumeRequest) (*api.VolumeResponse, error) {
	if r.GetName() == "" {
		return nil, invalid("name is required")
	}
	if r.GetSizeBytes() <= 0 {
		return nil, invalid("size_bytes must be positive")
	}
	if err := storage.ValidateOwnerUID(r.GetOwnerUid()); err != nil {
		return nil, statusFor(err)
	}
	claim := storage.Claim{OwnerUID: r.GetOwnerUid(), AdoptUnowned: r.GetAdoptUnowned()}
	v, err := s.backend.ResizeVolume(ctx, r.GetDeviceClass(), r.GetName(), r.GetSizeBytes(), claim)
	return s.volumeResult(v, err, true)
}

// RemoveVolume implements the API.
func (s *Server) RemoveVolume(ctx context.Context, r *api.RemoveVolumeRequest) (*api.RemoveVolumeResponse, error) {
	if r.GetName() == "" {
		return nil, invalid("name is required")
	}
	if err := storage.ValidateOwnerUID(r.GetOwnerUid()); err != nil {
		return nil, statusFor(err)
	}
	claim := storage.Claim{OwnerUID: r.GetOwnerUid(), AdoptUnowned: r.GetAdoptUnowned()}
	if err := s.backend.RemoveVolume(ctx, r.GetDeviceClass(), r.GetName(), claim); err != nil {
		return nil, statusFor(err)
	}
	s.hub.Notify()
	return &api.RemoveVolumeResponse{}, nil
}

// GetVolume implements the API.
func (s *Server) GetVolume(ctx context.Context, r *api.GetVolumeRequest) (*api.VolumeResponse, error) {
	if r.GetName() == "" {
		return nil, invalid("name is required")
	}
	v, err := s.backend.GetVolume(ctx, r.GetDeviceClass(), r.GetName())
	return s.volumeResult(v, err, false)
}

// ListVolumes implements the API.
func (s *Server) ListVolumes(ctx context.Context, r *api.ListVolumesRequest) (*api.ListVolumesResponse, error) {
	vs, err := s.backend.ListVolumes(ctx, r.GetDeviceClass())
	if err != nil {
		return nil, statusFor(err)
	}
	out := &api.ListVolumesResponse{Volumes: make([]*api.Volume, 0, len(vs))}
	for _, v := range vs {
		out.Volumes = append(out.Volumes, toAPIVolume(v))
	}
	return out, nil
}

// GetCapacity implements the API. It answers from the hub when it has
// figures, so that frequent callers cost nothing; otherwise it reads the system.
func (s *Server) GetCapacity(ctx context.Context, _ *api.GetCapacityRequest) (*api.CapacityResponse, error) {
	if c, ok := s.hub.Latest(); ok {
		return ToAPICapacity(c), nil
	}
	c, err := s.backend.Refresh(ctx)
	if err != nil {
		return nil, statusFor(err)
	}
	return ToAPICapacity(c), nil
}

// Watch implements the API.
func (s *Server) Watch(_ *api.WatchRequest, stream api.StorageDaemon_WatchServer) error {
	ch, cancel := s.hub.Subscribe()
	defer cancel()
	ctx := stream.Context()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.stopping:
			return status.Error(codes.Unavailable, "daemon is shutting down")
		case c := <-ch:
			if err := stream.Send(ToAPICapacity(c)); err != nil {
				return err
			}
		}
	}
}

func (s *Server) volumeResult(v storage.Volume, err error, changed bool) (*api.VolumeResponse, error) {
	if err != nil {
		return nil, statusFor(err)
	}
	if changed {
		s.hub.Notify()
	}
	return &api.VolumeResponse{Volume: toAPIVolume(v)}, nil
}
