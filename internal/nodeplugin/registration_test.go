package nodeplugin

import (
	"context"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	registration "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

// TestRegistrationService plays the kubelet's side of plugin registration
// against the real service on its socket.
func TestRegistrationService(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- ServeRegistration(ctx, dir, "topols.io", "/var/lib/kubelet/plugins/topols.io/node/csi.sock", logr.Discard())
	}()
	conn, err := grpc.NewClient("unix://"+RegistrationSocket(dir, "topols.io"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := registration.NewRegistrationClient(conn)
	cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
	defer ccancel()
	info, err := c.GetInfo(cctx, &registration.InfoRequest{}, grpc.WaitForReady(true))
	if err != nil {
		t.Fatal(err)
	}
	if info.Type != "CSIPlugin" || info.Name != "topols.io" || info.Endpoint != "/var/lib/kubelet/plugins/topols.io/node/csi.sock" || len(info.SupportedVersions) != 1 {
		t.Errorf("plugin info = %v", info)
	}
	if _, err := c.NotifyRegistrationStatus(cctx, &registration.RegistrationStatus{PluginRegistered: true}); err != nil {
		t.Error(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
