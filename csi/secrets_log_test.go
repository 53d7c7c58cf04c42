package csi

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// CSI secrets never reach the logs: requests that carry them, answered with
// an error (which logs the request at the default level) and with success
// (logged at V(1)), leave the secret's value out of every line, with every
// verbosity on.
func TestSecretsNeverReachTheLogs(t *testing.T) {
	const secret = "hunter2-do-not-log"
	var mu sync.Mutex
	var lines []string
	log := funcr.New(func(prefix, args string) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, prefix+" "+args)
	}, funcr.Options{Verbosity: 10})

	d := LVMDriver("topolvm.io")
	ctl := NewController(d, newMemStore(), memCapacity{"node-1": 1 << 40})
	node := NewNode(d, "node-1", nil, nil, t.TempDir(), log)
	sock := filepath.Join(t.TempDir(), "csi.sock")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, sock, NewIdentity(d.Name, true, nil), ctl, node, prometheus.NewRegistry(), log)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The server is up once it answers (the socket appears after Serve
	// starts).
	ready := false
	for range 200 {
		if _, err := csi.NewIdentityClient(conn).GetPluginInfo(ctx, &csi.GetPluginInfoRequest{}); err == nil {
			ready = true
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !ready {
		t.Fatal("the CSI server never answered")
	}
	secrets := map[string]string{"password": secret}
	c, n := csi.NewControllerClient(conn), csi.NewNodeClient(conn)
	calls := map[string]func() error{
		"CreateVolume, refused": func() error {
			_, err := c.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: "pvc-s", Secrets: secrets, Parameters: map[string]string{"topolvm.io/bogus": "x"},
				VolumeCapabilities: []*csi.VolumeCapability{{AccessType: &csi.VolumeCapability_Mount{Mount: &csi.VolumeCapability_MountVolume{}},
					AccessMode: &csi.VolumeCapability_AccessMode{Mode: csi.VolumeCapability_AccessMode_SINGLE_NODE_WRITER}}}})
			return err
		},
		"CreateVolume, made": func() error {
			_, err := c.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: "pvc-ok", Secrets: secrets,
				VolumeCapabilities: []*csi.VolumeCapability{{AccessType: &csi.VolumeCapability_Mount{Mount: &csi.VolumeCapability_MountVolume{}},
					AccessMode: &csi.VolumeCapability_AccessMode{Mode: csi.VolumeCapability_AccessMode_SINGLE_NODE_WRITER}}}})
			return err
		},
		"DeleteVolume": func() error {
			_, err := c.DeleteVolume(ctx, &csi.DeleteVolumeRequest{VolumeId: "pvc-ok", Secrets: secrets})
			return err
		},
		"NodePublishVolume, refused": func() error {
			_, err := n.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{VolumeId: "", TargetPath: "/nowhere", Secrets: secrets})
			return err
		},
	}
	for name, call := range calls {
		// Answers do not matter, as long as the call reached the server:
		// every call that does is logged.
		if err := call(); status.Code(err) == codes.Unavailable {
			t.Fatalf("%s did not reach the server: %v", name, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	sawRequest := false
	for _, l := range lines {
		if strings.Contains(l, secret) {
			t.Errorf("a log line carries the secret: %s", l)
		}
		if strings.Contains(l, `"password":"***stripped***"`) || strings.Contains(l, "***stripped***") {
			sawRequest = true
		}
	}
	if !sawRequest {
		t.Errorf("no logged request shows the stripped secret, so the requests were not logged at all:\n%s", strings.Join(lines, "\n"))
	}
}
