package scheduler

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
)

// serverTLS is the extender's HTTPS: the certificate and key read from
// files and read again when they change (a Secret volume is updated in
// place when cert-manager renews it), and, with a client CA, the verbs
// kept for callers that present a certificate it signed.
//
// kube-scheduler's extender client speaks TLS when the extender's
// urlPrefix is https (enableHTTPS), verifies the server against
// tlsConfig.caFile/caData and serverName, and presents
// tlsConfig.certFile/keyFile (or certData/keyData) as its client
// certificate.
type serverTLS struct {
	config   *tls.Config
	watcher  *certwatcher.CertWatcher
	clientCA bool
}

// newServerTLS reads the certificate, key and client CA (optional) once,
// so that a wrong path or file fails the start rather than each handshake.
func newServerTLS(files TLS, clientCAFile string) (*serverTLS, error) {
	w, err := certwatcher.New(files.CertFile, files.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: certificate %s and key %s: %w", files.CertFile, files.KeyFile, err)
	}
	s := &serverTLS{
		config:  &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: w.GetCertificate},
		watcher: w,
	}
	if clientCAFile != "" {
		pem, err := os.ReadFile(clientCAFile)
		if err != nil {
			return nil, fmt.Errorf("tls: client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls: client CA %s holds no PEM certificate", clientCAFile)
		}
		s.config.ClientCAs = pool
		// Asked for, verified when given, required by handler for all but
		// the probes and metrics: the kubelet's HTTPS probes and most
		// scrapers present no client certificate.
		s.config.ClientAuth = tls.VerifyClientCertIfGiven
		s.clientCA = true
	}
	return s, nil
}

// watch reloads the certificate and key when they change (file events,
// and a poll every 10 s for the events a Secret volume's symlink swap
// hides) until ctx ends. A renewal that does not load (a key that does not
// match, a half-written file) is logged and the previous pair served.
func (s *serverTLS) watch(ctx context.Context, log logr.Logger) {
	if err := s.watcher.Start(ctx); err != nil {
		log.Error(err, "not watching the TLS certificate for changes; restart to load a new one")
	}
}

// openPaths are served without a client certificate even when a client
// CA is set: the kubelet's probes and Prometheus carry none, and none of
// them reads a request body.
var openPaths = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// handler requires, with a client CA, a verified client certificate on
// every path but the probes and metrics; the refusal comes before any of
// the body is read.
func (s *serverTLS) handler(next http.Handler) http.Handler {
	if !s.clientCA {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !openPaths[r.URL.Path] && (r.TLS == nil || len(r.TLS.VerifiedChains) == 0) {
			w.Header().Set("Connection", "close")
			http.Error(w, "a client certificate signed by the extender's client CA (--tls-client-ca) is required: "+
				"give kube-scheduler's extender tlsConfig a certFile and keyFile", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}
