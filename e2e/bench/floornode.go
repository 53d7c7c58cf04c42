package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"github.com/go-logr/logr"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/toposuite/toposuite/e2e/cluster"
	"github.com/toposuite/toposuite/internal/nodeplugin"
)

// The floor's node service, so that pods can use its volumes and the
// floor has a WaitForFirstConsumer scenario with pods like the drivers: a
// volume is published as an empty directory. One server a node, run by
// this process on the host at the node's kubelet directory and registered
// with its kubelet the way the suite's node plugin registers itself.

// kubeletRoot is the kubelet's root dir as the kubelet sees it.
const kubeletRoot = "/var/lib/kubelet"

// floorNode is the floor's node service on one node.
type floorNode struct {
	csi.UnimplementedNodeServer
	// node is the node's name; kubeletDir its kubeletRoot on the host.
	node, kubeletDir string
}

func (n floorNode) NodeGetInfo(context.Context, *csi.NodeGetInfoRequest) (*csi.NodeGetInfoResponse, error) {
	return &csi.NodeGetInfoResponse{NodeId: n.node}, nil
}

func (n floorNode) NodeGetCapabilities(context.Context, *csi.NodeGetCapabilitiesRequest) (*csi.NodeGetCapabilitiesResponse, error) {
	return &csi.NodeGetCapabilitiesResponse{}, nil
}

// NodePublishVolume makes the target directory; the container runtime
// bind-mounts it into the pod.
func (n floorNode) NodePublishVolume(_ context.Context, req *csi.NodePublishVolumeRequest) (*csi.NodePublishVolumeResponse, error) {
	dir, err := n.onHost(req.GetTargetPath())
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &csi.NodePublishVolumeResponse{}, nil
}

func (n floorNode) NodeUnpublishVolume(_ context.Context, req *csi.NodeUnpublishVolumeRequest) (*csi.NodeUnpublishVolumeResponse, error) {
	dir, err := n.onHost(req.GetTargetPath())
	if err != nil {
		return nil, err
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &csi.NodeUnpublishVolumeResponse{}, nil
}

// onHost is where a kubelet's path lies on the host.
func (n floorNode) onHost(target string) (string, error) {
	rel, ok := strings.CutPrefix(target, kubeletRoot+"/")
	if rel = filepath.Clean(rel); !ok || rel == "." || !filepath.IsLocal(rel) {
		return "", status.Errorf(codes.InvalidArgument, "target path %q is not under %s", target, kubeletRoot)
	}
	return filepath.Join(n.kubeletDir, rel), nil
}

// startFloorNodes declares the floor's CSIDriver (no attachment, no
// capacity) and serves and registers its node service on every node; it
// returns once every node lists the driver. stop deregisters, ends the
// servers and deletes the CSIDriver.
func startFloorNodes(ctx context.Context, c *cluster.Cluster, cs kubernetes.Interface) (stop func(), err error) {
	no := false
	_, err = cs.StorageV1().CSIDrivers().Create(ctx, &storagev1.CSIDriver{
		ObjectMeta: metav1.ObjectMeta{Name: FloorDriver},
		Spec: storagev1.CSIDriverSpec{AttachRequired: &no, StorageCapacity: &no, PodInfoOnMount: &no,
			VolumeLifecycleModes: []storagev1.VolumeLifecycleMode{storagev1.VolumeLifecyclePersistent}},
	}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var servers []*grpc.Server
	stop = func() {
		cancel() // removes the registration sockets: the kubelets deregister
		wg.Wait()
		for _, s := range servers {
			s.Stop()
		}
		_ = cs.StorageV1().CSIDrivers().Delete(context.WithoutCancel(ctx), FloorDriver, metav1.DeleteOptions{})
	}
	// A registration service that fails (its socket, say) ends the wait
	// below at once.
	failed := make(chan error, len(c.NodeNames()))
	endpoint := filepath.Join(kubeletRoot, "plugins", FloorDriver, "csi.sock")
	for _, node := range c.NodeNames() {
		dir := c.KubeletDir(node)
		srv, err := serveCSI(filepath.Join(dir, strings.TrimPrefix(endpoint, kubeletRoot)), func(s *grpc.Server) {
			csi.RegisterIdentityServer(s, floorServer{})
			csi.RegisterNodeServer(s, floorNode{node: node, kubeletDir: dir})
		})
		if err != nil {
			stop()
			return nil, err
		}
		servers = append(servers, srv)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := nodeplugin.ServeRegistration(rctx, dir, FloorDriver, endpoint, logr.Discard()); err != nil && rctx.Err() == nil {
				failed <- fmt.Errorf("registration service of %s: %w", node, err)
			}
		}()
	}
	if err := waitRegistered(ctx, cs, c.NodeNames(), failed); err != nil {
		stop()
		return nil, err
	}
	return stop, nil
}

// waitRegistered waits until the CSINode of every node lists the floor, or
// a registration service fails.
func waitRegistered(ctx context.Context, cs kubernetes.Interface, nodes []string, failed <-chan error) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		var missing []string
		for _, node := range nodes {
			n, err := cs.StorageV1().CSINodes().Get(ctx, node, metav1.GetOptions{})
			if err != nil || !slices.ContainsFunc(n.Spec.Drivers, func(d storagev1.CSINodeDriver) bool { return d.Name == FloorDriver }) {
				missing = append(missing, node)
			}
		}
		if len(missing) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the kubelets of %v did not register %s: %w", missing, FloorDriver, ctx.Err())
		case err := <-failed:
			return err
		case <-time.After(200 * time.Millisecond):
		}
	}
}
