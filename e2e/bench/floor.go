package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"
	"k8s.io/client-go/kubernetes"

	"github.com/toposuite/toposuite/e2e/cluster"
)

// The floor is a reference, not a product: the same bursts through
// csi-provisioner and kube-controller-manager, on the same cluster at the
// same moment, with a CSI driver that does no work at all (no
// LogicalVolume, no capacity; its volumes are empty directories that the
// pods mount, floornode.go). Whatever a burst of the floor takes is what
// Kubernetes' own machinery costs on this machine, so no driver can be
// faster here; the suite's drivers are measured against it. Its fast
// binding is in floorbinding.go.

// FloorDriver is the floor's CSI driver name.
const FloorDriver = "floor.bench.toposuite.io"

// Floor describes the floor like a driver of the suite: no chart (the
// benchmark makes its WaitForFirstConsumer class too), no LogicalVolumes;
// its volumes on a node are the directories its node service published
// and the kubelet has not unpublished yet.
var Floor = Driver{Name: FloorDriver, Short: "floor", StorageClass: "bench-floor-wffc", NoLogicalVolumes: true,
	VolumesOnNode: func(_ context.Context, c *cluster.Cluster, node string) ([]string, error) {
		mounts, err := filepath.Glob(filepath.Join(c.KubeletDir(node), "pods", "*", "volumes", "kubernetes.io~csi", "pvc-*", "mount"))
		var names []string
		for _, m := range mounts {
			names = append(names, filepath.Base(filepath.Dir(m)))
		}
		return names, err
	}}

// FloorProvisionerArgs are the floor's csi-provisioner flags besides its
// socket and kubeconfig: the charts' client limits, workers and timeout.
var FloorProvisionerArgs = []string{"--extra-create-metadata", "--kube-api-qps=100", "--kube-api-burst=200", "--worker-threads=100", "--timeout=30s"}

// floorServer answers CSI with success and does nothing else.
type floorServer struct {
	csi.UnimplementedIdentityServer
	csi.UnimplementedControllerServer
}

func (floorServer) GetPluginInfo(context.Context, *csi.GetPluginInfoRequest) (*csi.GetPluginInfoResponse, error) {
	return &csi.GetPluginInfoResponse{Name: FloorDriver, VendorVersion: "floor"}, nil
}

func (floorServer) GetPluginCapabilities(context.Context, *csi.GetPluginCapabilitiesRequest) (*csi.GetPluginCapabilitiesResponse, error) {
	return &csi.GetPluginCapabilitiesResponse{Capabilities: []*csi.PluginCapability{{
		Type: &csi.PluginCapability_Service_{Service: &csi.PluginCapability_Service{Type: csi.PluginCapability_Service_CONTROLLER_SERVICE}},
	}}}, nil
}

func (floorServer) Probe(context.Context, *csi.ProbeRequest) (*csi.ProbeResponse, error) {
	return &csi.ProbeResponse{Ready: wrapperspb.Bool(true)}, nil
}

func (floorServer) ControllerGetCapabilities(context.Context, *csi.ControllerGetCapabilitiesRequest) (*csi.ControllerGetCapabilitiesResponse, error) {
	return &csi.ControllerGetCapabilitiesResponse{Capabilities: []*csi.ControllerServiceCapability{{
		Type: &csi.ControllerServiceCapability_Rpc{Rpc: &csi.ControllerServiceCapability_RPC{Type: csi.ControllerServiceCapability_RPC_CREATE_DELETE_VOLUME}},
	}}}, nil
}

// CreateVolume names the volume after the request: a repeat gets the same.
func (floorServer) CreateVolume(_ context.Context, req *csi.CreateVolumeRequest) (*csi.CreateVolumeResponse, error) {
	return &csi.CreateVolumeResponse{Volume: &csi.Volume{VolumeId: req.GetName(), CapacityBytes: req.GetCapacityRange().GetRequiredBytes()}}, nil
}

func (floorServer) DeleteVolume(context.Context, *csi.DeleteVolumeRequest) (*csi.DeleteVolumeResponse, error) {
	return &csi.DeleteVolumeResponse{}, nil
}

// StartFloor serves the floor driver's controller on a socket in the lab
// directory, starts a csi-provisioner for it on the host and registers the
// floor's node service (floornode.go) with every kubelet. The returned stop
// ends the servers, and with them the provisioner (it exits when it loses
// its driver; the cluster's Down stops it otherwise). It waits until the
// provisioner has started its controller (its log says so) and every node
// lists the driver.
func StartFloor(ctx context.Context, c *cluster.Cluster, cs kubernetes.Interface) (cluster.Proc, func(), error) {
	sock := filepath.Join(c.Dir(), "floor", "csi.sock")
	srv, err := serveCSI(sock, func(s *grpc.Server) {
		csi.RegisterIdentityServer(s, floorServer{})
		csi.RegisterControllerServer(s, floorServer{})
	})
	if err != nil {
		return cluster.Proc{}, nil, err
	}
	args := append([]string{"--csi-address=" + sock, "--kubeconfig=" + c.Kubeconfig()}, FloorProvisionerArgs...)
	p, err := c.StartTool("floor-csi-provisioner", "csi-provisioner", args...)
	if err != nil {
		srv.Stop()
		return cluster.Proc{}, nil, err
	}
	if err := waitLog(ctx, p.PID, filepath.Join(c.LogDir(), "floor-csi-provisioner.log"), "Started provisioner controller", time.Minute); err != nil {
		srv.Stop()
		return p, nil, err
	}
	stopNodes, err := startFloorNodes(ctx, c, cs)
	if err != nil {
		srv.Stop()
		return p, nil, err
	}
	return p, func() { stopNodes(); srv.Stop() }, nil
}

// serveCSI serves the services register adds on a unix socket at path
// (its directory made, a stale socket replaced) until the server stops.
func serveCSI(path string, register func(*grpc.Server)) (*grpc.Server, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	_ = os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	srv := grpc.NewServer()
	register(srv)
	go func() { _ = srv.Serve(l) }()
	return srv, nil
}

// waitLog waits until the log file of process pid holds want.
func waitLog(ctx context.Context, pid int, file, want string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		if b, _ := os.ReadFile(file); bytes.Contains(b, []byte(want)) {
			return nil
		}
		// The cluster reaps its processes: a dead one is gone at once.
		if syscall.Kill(pid, 0) != nil {
			return fmt.Errorf("process %d exited before its log said %q: see %s", pid, want, file)
		}
		select {
		case <-ctx.Done():
			return errors.Join(fmt.Errorf("%s does not say %q: see it", file, want), ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
