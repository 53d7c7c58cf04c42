//go:build integration

package csi_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	v1 "github.com/toposuite/toposuite/internal/api/topolvm/v1"
	"github.com/toposuite/toposuite/internal/testutil"
	lvmconfig "github.com/toposuite/toposuite/lvmd/config"
)

// noLogicalVolumes fails when any LogicalVolume is left.
func (p *plugins) noLogicalVolumes(t *testing.T) {
	t.Helper()
	testutil.Eventually(t, "no LogicalVolume left", func() bool {
		var l v1.LogicalVolumeList
		return p.c.List(context.Background(), &l) == nil && len(l.Items) == 0
	})
}

func TestIntegrationBadInputLeavesNothing(t *testing.T) {
	p, env, vg := lvmRig(t)
	c := testutil.Context(t)
	multi := mountCap("ext4")
	multi.AccessMode.Mode = csi.VolumeCapability_AccessMode_MULTI_NODE_MULTI_WRITER
	for _, tc := range []struct {
		name string
		req  *csi.CreateVolumeRequest
		code codes.Code
	}{
		// The class is checked by the node's lvmd: the controller returns its code and deletes the object.
		{"unknown class", &csi.CreateVolumeRequest{Name: "pvc-x1", VolumeCapabilities: []*csi.VolumeCapability{mountCap("ext4")},
			Parameters: map[string]string{"topolvm.io/device-class": "nvme"}, AccessibilityRequirements: p.topology()}, codes.InvalidArgument},
		{"bad fstype", &csi.CreateVolumeRequest{Name: "pvc-x2", VolumeCapabilities: []*csi.VolumeCapability{mountCap("ntfs")}}, codes.InvalidArgument},
		{"multi-node access", &csi.CreateVolumeRequest{Name: "pvc-x3", VolumeCapabilities: []*csi.VolumeCapability{multi}}, codes.InvalidArgument},
		{"missing capability", &csi.CreateVolumeRequest{Name: "pvc-x4"}, codes.InvalidArgument},
		{"huge size", &csi.CreateVolumeRequest{Name: "pvc-x5", VolumeCapabilities: []*csi.VolumeCapability{mountCap("ext4")},
			CapacityRange: &csi.CapacityRange{RequiredBytes: 1 << 62}}, codes.ResourceExhausted},
		{"absurd size", &csi.CreateVolumeRequest{Name: "pvc-x6", VolumeCapabilities: []*csi.VolumeCapability{mountCap("ext4")},
			CapacityRange: &csi.CapacityRange{RequiredBytes: 1<<63 - 1}}, codes.InvalidArgument},
		{"unknown options class", &csi.CreateVolumeRequest{Name: "pvc-x7", VolumeCapabilities: []*csi.VolumeCapability{mountCap("ext4")},
			Parameters: map[string]string{"topolvm.io/lvcreate-option-class": "raid9"}, AccessibilityRequirements: p.topology()}, codes.InvalidArgument},
	} {
		_, err := p.ctl.CreateVolume(c, tc.req)
		testutil.WantCode(t, err, tc.code, tc.name)
	}
	target := p.target("bad")
	for _, tc := range []struct {
		name string
		req  *csi.NodePublishVolumeRequest
		code codes.Code
	}{
		{"bad volume id", &csi.NodePublishVolumeRequest{VolumeId: "pvc-nope", TargetPath: target, VolumeCapability: mountCap("ext4")}, codes.NotFound},
		{"outside the kubelet dir", &csi.NodePublishVolumeRequest{VolumeId: "pvc-nope", TargetPath: "/etc/x", VolumeCapability: mountCap("ext4")}, codes.InvalidArgument},
		{"path escaping the kubelet dir", &csi.NodePublishVolumeRequest{VolumeId: "pvc-nope", TargetPath: p.kubeletDir + "/../../etc", VolumeCapability: mountCap("ext4")}, codes.InvalidArgument},
		{"missing capability", &csi.NodePublishVolumeRequest{VolumeId: "pvc-nope", TargetPath: target}, codes.InvalidArgument},
		{"missing volume id", &csi.NodePublishVolumeRequest{TargetPath: target, VolumeCapability: mountCap("ext4")}, codes.InvalidArgument},
		{"bad ephemeral size", &csi.NodePublishVolumeRequest{VolumeId: "csi-eph", TargetPath: target, VolumeCapability: mountCap("ext4"),
			VolumeContext: map[string]string{"csi.storage.k8s.io/ephemeral": "true", "size": "lots"}}, codes.InvalidArgument},
		{"ephemeral size past int64", &csi.NodePublishVolumeRequest{VolumeId: "csi-eph", TargetPath: target, VolumeCapability: mountCap("ext4"),
			VolumeContext: map[string]string{"csi.storage.k8s.io/ephemeral": "true", "size": "18446744073710600192"}}, codes.InvalidArgument},
	} {
		_, err := p.node.NodePublishVolume(c, tc.req)
		testutil.WantCode(t, err, tc.code, tc.name)
	}
	p.noLogicalVolumes(t)
	if out := strings.TrimSpace(env.LVM(t, "lvs", "--noheadings", "-o", "lv_name", vg)); out != "" {
		t.Errorf("bad requests left LVs: %s", out)
	}
}

func TestIntegrationNodeRefusalReachesTheProvisioner(t *testing.T) {
	p, env, vg := lvmRig(t)
	c := testutil.Context(t)
	// Two volumes that each fit the node's published capacity but not
	// together: the controller lets both through; the node refuses one,
	// whose ResourceExhausted reaches the caller (csi-provisioner then
	// reschedules), and its LogicalVolume is deleted.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = p.ctl.CreateVolume(c, &csi.CreateVolumeRequest{
				Name: []string{"pvc-r1", "pvc-r2"}[i], VolumeCapabilities: []*csi.VolumeCapability{mountCap("ext4")},
				CapacityRange: &csi.CapacityRange{RequiredBytes: 2 << 30}, AccessibilityRequirements: p.topology(),
			})
		}()
	}
	wg.Wait()
	ok, exhausted := 0, 0
	for _, err := range errs {
		switch status.Code(err) {
		case codes.OK:
			ok++
		case codes.ResourceExhausted:
			exhausted++
		default:
			t.Errorf("unexpected: %v", err)
		}
	}
	if ok != 1 || exhausted != 1 {
		t.Fatalf("ok=%d exhausted=%d, want one of each", ok, exhausted)
	}
	var l v1.LogicalVolumeList
	testutil.Eventually(t, "the refused LogicalVolume to go", func() bool { return p.c.List(c, &l) == nil && len(l.Items) == 1 })
	if n := len(strings.Fields(env.LVM(t, "lvs", "--noheadings", "-o", "lv_name", vg))); n != 1 {
		t.Errorf("%d LVs, want 1", n)
	}
}

func TestIntegrationDaemonDownThenBack(t *testing.T) {
	p, _, _, stopLVMD := lvmRigWith(t, true, lvmconfig.ActivationDevelopmentLoop)
	c := testutil.Context(t)
	vol, err := p.ctl.CreateVolume(c, &csi.CreateVolumeRequest{Name: "pvc-before", VolumeCapabilities: []*csi.VolumeCapability{mountCap("ext4")},
		CapacityRange: &csi.CapacityRange{RequiredBytes: 8 << 20}, AccessibilityRequirements: p.topology()})
	if err != nil {
		t.Fatal(err)
	}
	restart := stopLVMD()
	// With lvmd gone, the node answers Unavailable: retry later.
	_, err = p.node.NodePublishVolume(c, &csi.NodePublishVolumeRequest{VolumeId: vol.Volume.VolumeId, TargetPath: p.target("down"), VolumeCapability: mountCap("ext4")})
	testutil.WantCode(t, err, codes.Unavailable, "publish while lvmd is down")
	// A CreateVolume in flight completes once lvmd is back.
	go func() { time.Sleep(time.Second); restart() }()
	_, err = p.ctl.CreateVolume(c, &csi.CreateVolumeRequest{Name: "pvc-during", VolumeCapabilities: []*csi.VolumeCapability{mountCap("ext4")},
		CapacityRange: &csi.CapacityRange{RequiredBytes: 8 << 20}, AccessibilityRequirements: p.topology()})
	if err != nil {
		t.Fatalf("create across an lvmd restart: %v", err)
	}
	if _, err := p.node.NodePublishVolume(c, &csi.NodePublishVolumeRequest{VolumeId: vol.Volume.VolumeId, TargetPath: p.target("up"), VolumeCapability: mountCap("ext4")}); err != nil {
		t.Fatalf("publish after lvmd came back: %v", err)
	}
	if _, err := p.node.NodeUnpublishVolume(c, &csi.NodeUnpublishVolumeRequest{VolumeId: vol.Volume.VolumeId, TargetPath: p.target("up")}); err != nil {
		t.Fatal(err)
	}
}
