//go:build integration

package webhook_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/toposuite/toposuite/csi"
	"github.com/toposuite/toposuite/internal/controllerplugin"
	"github.com/toposuite/toposuite/internal/testutil"
	"github.com/toposuite/toposuite/internal/webhook"
)

// The pod webhook of a real topolvm-controller speaks TLS only: a plain
// HTTP request, even a well-formed admission review, gets no admission
// answer (Go's TLS server answers 400 "HTTP request to an HTTPS server");
// TLS below 1.2 and HTTP/2 are refused; HTTPS with the serving CA is
// answered (the control).
func TestIntegrationPodWebhookTLSOnly(t *testing.T) {
	cfg, _ := testutil.APIServer(t)
	hook := &envtest.WebhookInstallOptions{LocalServingHost: "127.0.0.1"}
	if err := hook.PrepWithoutInstalling(); err != nil { // a free port and a certificate for 127.0.0.1
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hook.Cleanup() })
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(hook.LocalServingPort))
	d := csi.LVMDriver("topolvm.io")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- controllerplugin.Run(ctx, controllerplugin.Options{
			Driver: d, CSISocket: filepath.Join(testutil.Dir(t), "csi.sock"), MetricsAddress: "0", HealthAddress: "0",
			WebhookAddress: addr, WebhookCertDir: hook.LocalServingCertDir,
			RestConfig: cfg, Log: testr.NewWithInterface(t, testr.Options{}).WithName("controller"),
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("controller: %v", err)
		}
	})
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(hook.LocalServingCAData)
	handshake := func(c *tls.Config) (*tls.Conn, error) {
		c.RootCAs, c.ServerName = roots, "127.0.0.1"
		return tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", addr, c)
	}
	testutil.Eventually(t, "the webhook to serve", func() bool {
		conn, err := handshake(&tls.Config{})
		if err == nil {
			conn.Close()
		}
		return err == nil
	})

	review := []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"1","kind":{"group":"","version":"v1","kind":"Pod"},` +
		`"resource":{"group":"","version":"v1","resource":"pods"},"operation":"CREATE","namespace":"default","object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}}}`)
	post := func(c *http.Client, scheme string) (int, string, error) {
		resp, err := c.Post(scheme+"://"+addr+webhook.PodMutatePath, "application/json", bytes.NewReader(review))
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}

	code, body, err := post(&http.Client{Timeout: 5 * time.Second}, "http")
	if err == nil && (code != http.StatusBadRequest || !strings.Contains(body, "HTTP request to an HTTPS server") || strings.Contains(body, "AdmissionReview")) {
		t.Errorf("plain HTTP: %d %q, want no admission answer", code, body)
	}

	tlsClient := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}}}
	code, body, err = post(tlsClient, "https")
	if err != nil || code != http.StatusOK || !strings.Contains(body, `"uid":"1"`) {
		t.Errorf("HTTPS with the serving CA: %d %q, %v; want the admission answer", code, body, err)
	}

	if conn, err := handshake(&tls.Config{MaxVersion: tls.VersionTLS11}); err == nil {
		conn.Close()
		t.Error("a TLS 1.1 handshake succeeded")
	}
	conn, err := handshake(&tls.Config{NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if p := conn.ConnectionState().NegotiatedProtocol; p == "h2" {
		t.Error("HTTP/2 negotiated; the webhook serves HTTP/1.1 only")
	}
}
