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
	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"
	"k8s.io/client-go/kubernetes"
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
// LogicalVolume, no capacity; its volumes are empty directories that the
// pods mount). Whatever a burst of the floor takes
// is what Kubernetes' own machinery costs on this machine, so no driver can
// be faster here; the suite's drivers are measured against it.

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

// FloorFastBinding is the suite's fast binding (docs/csi.md) running for
// the floor driver in this process, as topolvm-controller runs it for its
// own drivers: the floor of a driver that does nothing but binds the way
// the suite's drivers do.
type FloorFastBinding struct {
	steps  *prometheus.CounterVec
	cancel context.CancelFunc
	errc   chan error
}

// StartFloorFastBinding starts fast binding for the floor, with the client
// limits of the charts' topolvm-controller (kubeAPIQPS, kubeAPIBurst), and
// returns once its caches are filled.
func StartFloorFastBinding(ctx context.Context, cfg *rest.Config) (*FloorFastBinding, error) {
	s, err := scheme.New()
	if err != nil {
		return nil, err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 200, 500
	// controller-runtime's own logger (its packages log through it too).
	ctrl.SetLogger(logr.Discard())
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: s, Logger: logr.Discard(),
		Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0"})
	if err != nil {
		return nil, err
	}
	steps, err := controller.NewFastBindingSteps(prometheus.NewRegistry())
	if err != nil {
		return nil, err
	}
	fb := &controller.FastBinding{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Driver: toposuitecsi.Driver{Name: FloorDriver},
		Workers: controller.FastBindingWorkers, Steps: steps, Log: logr.Discard()}
	ctx, cancel := context.WithCancel(ctx)
	if err := fb.SetupWithManager(ctx, mgr); err != nil {
		cancel()
		return nil, err
	}
	f := &FloorFastBinding{steps: steps, cancel: cancel, errc: make(chan error, 1)}
	go func() { f.errc <- mgr.Start(ctx) }()
	synced := make(chan bool, 1)
	go func() {
		sctx, scancel := context.WithTimeout(ctx, time.Minute)
		defer scancel()
		synced <- mgr.GetCache().WaitForCacheSync(sctx)
	}()
	select {
	case err := <-f.errc:
		cancel()
		return nil, fmt.Errorf("floor fast binding stopped: %w", err)
	case ok := <-synced:
		if !ok {
			return nil, errors.Join(errors.New("floor fast binding: caches not filled in a minute"), f.Stop())
		}
	}
	return f, nil
}

// Steps says which steps fast binding took.
func (f *FloorFastBinding) Steps() string {
	taken := map[string]float64{}
	for _, step := range []string{"announce", "bind", "unprotect-claim", "release", "unprotect-volume"} {
		var m dto.Metric
		if f.steps.WithLabelValues(FloorDriver, step).Write(&m) == nil {
			taken[step] = m.GetCounter().GetValue()
		}
	}
	return StepsSince(nil, taken)
}

// Stop stops fast binding and returns why it ended, if not by Stop.
func (f *FloorFastBinding) Stop() error {
	f.cancel()
	return <-f.errc
}
