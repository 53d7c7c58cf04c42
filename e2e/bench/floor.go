package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"github.com/go-logr/logr"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	toposuitecsi "github.com/toposuite/toposuite/csi"
	"github.com/toposuite/toposuite/e2e/cluster"
	"github.com/toposuite/toposuite/internal/controller"
	"github.com/toposuite/toposuite/internal/scheme"
)

// The floor is a reference, not a product: the same bursts through
// csi-provisioner and kube-controller-manager, on the same cluster at the
// same moment, with a CSI driver that does no work at all (no
// LogicalVolume, no node, no capacity). Whatever a burst of the floor takes
// is what Kubernetes' own machinery costs on this machine, so no driver can
// be faster here; the suite's drivers are measured against it.

// FloorDriver is the floor's CSI driver name.
const FloorDriver = "floor.bench.toposuite.io"

// Floor describes the floor like a driver of the suite: no namespace, no
// volumes on the nodes, no LogicalVolumes.
var Floor = Driver{Name: FloorDriver, Short: "floor", NoLogicalVolumes: true}

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

// StartFloor serves the floor driver on a socket in the lab directory and
// starts a csi-provisioner for it on the host (stopped by the cluster's
// Down); the returned stop ends the server. It waits until the
// provisioner has found the driver (its log says so).
func StartFloor(ctx context.Context, c *cluster.Cluster) (cluster.Proc, func(), error) {
	dir := filepath.Join(c.Dir(), "floor")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return cluster.Proc{}, nil, err
	}
	sock := filepath.Join(dir, "csi.sock")
	_ = os.Remove(sock)
	l, err := net.Listen("unix", sock)
	if err != nil {
		return cluster.Proc{}, nil, err
	}
	srv := grpc.NewServer()
	csi.RegisterIdentityServer(srv, floorServer{})
	csi.RegisterControllerServer(srv, floorServer{})
	go func() { _ = srv.Serve(l) }()
	args := append([]string{"--csi-address=" + sock, "--kubeconfig=" + c.Kubeconfig()}, FloorProvisionerArgs...)
	p, err := c.StartTool("floor-csi-provisioner", "csi-provisioner", args...)
	if err != nil {
		srv.Stop()
		return cluster.Proc{}, nil, err
	}
	if err := waitLog(ctx, filepath.Join(c.LogDir(), "floor-csi-provisioner.log"), "Started provisioner controller", time.Minute); err != nil {
		srv.Stop()
		return p, nil, err
	}
	return p, srv.Stop, nil
}

// waitLog waits until the file holds want.
func waitLog(ctx context.Context, file, want string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		if b, _ := os.ReadFile(file); bytes.Contains(b, []byte(want)) {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(fmt.Errorf("%s does not say %q: see it", file, want), ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// StartFloorFastBinding runs the suite's fast binding (docs/csi.md) for the
// floor driver in this process, as topolvm-controller runs it for its own,
// until the returned stop: the floor of a driver that does nothing but
// binds the way the suite's drivers do.
func StartFloorFastBinding(ctx context.Context, cfg *rest.Config) (func(), error) {
	s, err := scheme.New()
	if err != nil {
		return nil, err
	}
	// controller-runtime's own logger (its packages log through it too).
	ctrl.SetLogger(logr.Discard())
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: s, Logger: logr.Discard(),
		Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0"})
	if err != nil {
		return nil, err
	}
	fb := &controller.FastBinding{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Driver: toposuitecsi.Driver{Name: FloorDriver},
		Workers: controller.FastBindingWorkers, Log: logr.Discard()}
	ctx, cancel := context.WithCancel(ctx)
	if err := fb.SetupWithManager(ctx, mgr); err != nil {
		cancel()
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = mgr.Start(ctx)
	}()
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		cancel()
		<-done
		return nil, fmt.Errorf("floor fast binding: caches not filled")
	}
	return func() { cancel(); <-done }, nil
}
