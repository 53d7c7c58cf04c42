package bench

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The floor's node publishes a volume as an empty directory where the
// kubelet's path lies on the host, and takes it away again; a path outside
// the kubelet's root is refused.
func TestFloorNodePublish(t *testing.T) {
	host := t.TempDir()
	n := floorNode{node: "node1", kubeletDir: host}
	ctx := context.Background()
	target := "/var/lib/kubelet/pods/uid/volumes/kubernetes.io~csi/pvc-1/mount"
	if _, err := n.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{VolumeId: "pvc-1", TargetPath: target}); err != nil {
		t.Fatal(err)
	}
	onHost := filepath.Join(host, "pods/uid/volumes/kubernetes.io~csi/pvc-1/mount")
	if fi, err := os.Stat(onHost); err != nil || !fi.IsDir() {
		t.Fatalf("published volume: %v", err)
	}
	for range 2 { // a repeat finds nothing to remove
		if _, err := n.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: "pvc-1", TargetPath: target}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(onHost); !os.IsNotExist(err) {
		t.Errorf("unpublished volume still there: %v", err)
	}
	for _, bad := range []string{"/tmp/elsewhere", "/var/lib/kubelet", "/var/lib/kubeletx/pods", "/var/lib/kubelet/pods/../../etc", "/var/lib/kubelet//"} {
		_, err := n.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{VolumeId: "pvc-1", TargetPath: bad})
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("publish at %s: %v, want InvalidArgument", bad, err)
		}
	}
	info, err := n.NodeGetInfo(ctx, &csi.NodeGetInfoRequest{})
	if err != nil || info.GetNodeId() != "node1" {
		t.Errorf("node info %v, %v", info, err)
	}
}
