//go:build integration

package csi_test

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"

	"github.com/toposuite/toposuite/internal/nodeplugin"
	"github.com/toposuite/toposuite/internal/testutil"
)

// CSI secrets never reach the metrics: after requests that carry secrets
// (answered with success and with errors) to the real controller and node
// plugins, their /metrics endpoint, scraped over HTTP, counts the calls
// and holds no secret's key or value. Both plugins run in this process and
// register in the one registry the node's endpoint serves, so one scrape
// covers both (each binary serves its own the same way).
func TestIntegrationSecretsNeverReachTheMetrics(t *testing.T) {
	const key, value = "backup-password-key", "hunter2-not-in-metrics"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	p, _, _ := lvmRig(t, func(o *nodeplugin.Options) { o.MetricsAddress = addr })
	ctx := testutil.Context(t)
	secrets := map[string]string{key: value}

	vol, err := p.ctl.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: "pvc-secret", Secrets: secrets,
		VolumeCapabilities: []*csi.VolumeCapability{blockCap()}, CapacityRange: &csi.CapacityRange{RequiredBytes: 64 * mib},
		AccessibilityRequirements: p.topology()})
	if err != nil {
		t.Fatal(err)
	}
	id := vol.Volume.VolumeId
	t.Cleanup(func() {
		_, _ = p.ctl.DeleteVolume(testutil.Context(t), &csi.DeleteVolumeRequest{VolumeId: id, Secrets: secrets})
	})
	// Failures log and count their requests too.
	if _, err := p.ctl.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: "pvc-secret-big", Secrets: secrets,
		VolumeCapabilities: []*csi.VolumeCapability{blockCap()}, CapacityRange: &csi.CapacityRange{RequiredBytes: 1 << 40},
		AccessibilityRequirements: p.topology()}); err == nil {
		t.Error("a 1 TiB volume was made")
	}
	if _, err := p.ctl.ControllerExpandVolume(ctx, &csi.ControllerExpandVolumeRequest{VolumeId: id, Secrets: secrets,
		CapacityRange: &csi.CapacityRange{RequiredBytes: 128 * mib}, VolumeCapability: blockCap()}); err != nil {
		t.Errorf("expand: %v", err)
	}
	target := p.target("secret")
	if err := os.MkdirAll(filepath.Dir(target), 0o750); err != nil { // the kubelet makes the parent
		t.Fatal(err)
	}
	if _, err := p.node.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{VolumeId: id, TargetPath: target, Secrets: secrets,
		VolumeCapability: blockCap()}); err != nil {
		t.Fatalf("publish: %v", err)
	}
	if _, err := p.node.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: id, TargetPath: target}); err != nil {
		t.Errorf("unpublish: %v", err)
	}
	if _, err := p.node.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{VolumeId: "no-such-volume", TargetPath: target, Secrets: secrets,
		VolumeCapability: blockCap()}); err == nil {
		t.Error("publishing a missing volume succeeded")
	}

	c := &http.Client{Timeout: 5 * time.Second}
	var body string
	testutil.Eventually(t, "the node's /metrics", func() bool {
		resp, err := c.Get("http://" + addr + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		body = string(b)
		return err == nil && resp.StatusCode == http.StatusOK
	})
	for _, method := range []string{"CreateVolume", "ControllerExpandVolume", "NodePublishVolume"} {
		if !strings.Contains(body, method) {
			t.Errorf("the scrape does not count %s calls: it is not the plugins' registry", method)
		}
	}
	for _, s := range []string{key, value} {
		if strings.Contains(body, s) {
			t.Errorf("the metrics hold the secret %q", s)
		}
	}
}
