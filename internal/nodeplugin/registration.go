package nodeplugin

import (
	"context"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"
	registration "k8s.io/kubelet/pkg/apis/pluginregistration/v1"

	"github.com/toposuite/toposuite/internal/grpcserver"
)

// registrar is the kubelet's plugin registration service: the kubelet finds
// its socket in <kubelet dir>/plugins_registry/, asks what plugin this is and
// where its CSI endpoint is, then writes the CSINode entry, the node's
// topology label and the node ID annotation. It stands in for the
// node-driver-registrar sidecar, which cannot be fetched here; the charts
// let users choose the sidecar instead.
type registrar struct {
	registration.UnimplementedRegistrationServer
	driver   string
	endpoint string
	log      logr.Logger
}

// GetInfo implements the registration service.
func (r *registrar) GetInfo(context.Context, *registration.InfoRequest) (*registration.PluginInfo, error) {
	return &registration.PluginInfo{
		Type: registration.CSIPlugin, Name: r.driver, Endpoint: r.endpoint, SupportedVersions: []string{"1.0.0"},
	}, nil
}

// NotifyRegistrationStatus implements the registration service.
func (r *registrar) NotifyRegistrationStatus(_ context.Context, s *registration.RegistrationStatus) (*registration.RegistrationStatusResponse, error) {
	if s.GetPluginRegistered() {
		r.log.Info("registered with the kubelet", "driver", r.driver, "endpoint", r.endpoint)
	} else {
		r.log.Error(nil, "the kubelet refused the registration", "driver", r.driver, "error", s.GetError())
	}
	return &registration.RegistrationStatusResponse{}, nil
}

// RegistrationSocket is where the registration service listens.
func RegistrationSocket(kubeletDir, driver string) string {
	return filepath.Join(kubeletDir, "plugins_registry", driver+"-reg.sock")
}

// ServeRegistration serves the registration service until ctx ends; removing
// the socket at the end deregisters the plugin.
func ServeRegistration(ctx context.Context, kubeletDir, driver, endpoint string, log logr.Logger) error {
	s := grpcserver.New(log, func(req any) string { return "" }, nil)
	registration.RegisterRegistrationServer(s, &registrar{driver: driver, endpoint: endpoint, log: log})
	return grpcserver.ServeUnix(ctx, s, RegistrationSocket(kubeletDir, driver), 5*time.Second)
}
