package csi

import (
	"context"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"github.com/go-logr/logr"
	"github.com/kubernetes-csi/csi-lib-utils/protosanitizer"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/toposuite/toposuite/internal/grpcserver"
)

// Serve serves the given CSI services on a unix socket until ctx ends.
// Requests are logged through protosanitizer, so secrets never reach logs,
// and counted and timed in reg (toposuite_csi_grpc_*). controller or node
// may be nil.
func Serve(ctx context.Context, socket string, id *Identity, controller *Controller, node *Node, reg prometheus.Registerer, log logr.Logger) error {
	m, err := grpcserver.NewMetrics(reg, "toposuite_csi")
	if err != nil {
		return err
	}
	s := grpcserver.New(log, func(req any) string { return protosanitizer.StripSecrets(req).String() }, m)
	csi.RegisterIdentityServer(s, id)
	if controller != nil {
		csi.RegisterControllerServer(s, controller)
	}
	if node != nil {
		csi.RegisterNodeServer(s, node)
	}
	log.Info("serving CSI", "socket", socket, "controller", controller != nil, "node", node != nil)
	return grpcserver.ServeUnix(ctx, s, socket, 10*time.Second)
}
