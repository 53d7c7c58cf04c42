package scheduler

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	extenderv1 "k8s.io/kube-scheduler/extender/v1"

	"github.com/toposuite/toposuite/internal/httpserver"
)

// certificate is a key pair made in the test, and its PEM files.
type certificate struct {
	cert     *x509.Certificate
	key      *ecdsa.PrivateKey
	certPEM  []byte
	keyPEM   []byte
	keyPair  tls.Certificate
	certFile string
	keyFile  string
}

// newCertificate makes a certificate from tmpl, signed by parent (nil:
// self-signed), and writes its files into dir.
func newCertificate(t *testing.T, dir, name string, tmpl *x509.Certificate, parent *certificate) *certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = serial
	tmpl.Subject = pkix.Name{CommonName: name}
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	c := &certificate{key: key, certFile: filepath.Join(dir, name+".crt"), keyFile: filepath.Join(dir, name+".key")}
	if c.cert, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	c.certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	c.keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if c.keyPair, err = tls.X509KeyPair(c.certPEM, c.keyPEM); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.certFile, c.certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.keyFile, c.keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return c
}

// serverCert is a self-signed serving certificate for 127.0.0.1 and the
// Service's DNS name (kube-scheduler's tlsConfig.serverName).
func serverCert(t *testing.T, dir, name string) *certificate {
	return newCertificate(t, dir, name, &x509.Certificate{
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"topolvm-scheduler.topolvm-system.svc"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, nil) // self-signed: the client trusts the certificate itself

}

func caCert(t *testing.T, dir, name string) *certificate {
	return newCertificate(t, dir, name, &x509.Certificate{
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}, nil)
}

func clientCert(t *testing.T, dir, name string, ca *certificate) *certificate {
	return newCertificate(t, dir, name, &x509.Certificate{
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, ca)
}

// startTLS serves the extender as Run does, with TLS from the files and
// clientCAFile (optional), on a local port; it returns the base URL and
// the server's TLS, whose certificate can be reloaded.
func startTLS(t *testing.T, srvCert *certificate, clientCAFile string) (string, *serverTLS) {
	t.Helper()
	e := testExtender(t, nil)
	for name, free := range map[string]int64{"n1": 4 * gi, "n2": gi} {
		n := testNode(name, nodeAnn(map[string]int64{"00default": free}, 0))
		e.nodes.Handler().OnAdd(&n, false)
	}
	c := &Config{TLS: &TLS{CertFile: srvCert.certFile, KeyFile: srvCert.keyFile}}
	c.Default()
	srv, secure, err := newServer(c, clientCAFile, e.Handler(c.MaxRequestBytes, httpserver.Handler(prometheus.NewRegistry(), nil)))
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- serve(srv, secure, l) }()
	t.Cleanup(func() {
		_ = srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return "https://" + l.Addr().String(), secure
}

// tlsClient trusts roots and presents cert (nil: none), like
// kube-scheduler's extender client with tlsConfig caFile and
// certFile/keyFile; like it (client-go's transport defaults), it speaks
// HTTP/2 when the server does.
func tlsClient(roots []*certificate, cert *certificate) *http.Client {
	pool := x509.NewCertPool()
	for _, r := range roots {
		pool.AddCert(r.cert)
	}
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{cert.keyPair}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}}
}

// filter asks about n1 (room) and n2 (none) for a pod needing 2 GiB, and
// checks the answer came over HTTP/2.
func filter(c *http.Client, url string) (int, string, error) {
	pod := capPod("u", map[string]string{"capacity.topolvm.io/00default": strconv.FormatInt(2*gi, 10)})
	names := []string{"n1", "n2"}
	body, _ := json.Marshal(extenderv1.ExtenderArgs{Pod: pod, NodeNames: &names})
	resp, err := c.Post(url+FilterPath, "application/json", strings.NewReader(string(body)))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err == nil && resp.ProtoMajor != 2 {
		err = errors.New("answered over " + resp.Proto + ", not HTTP/2")
	}
	return resp.StatusCode, string(out), err
}

func TestTLSFilter(t *testing.T) {
	dir := t.TempDir()
	srvCert := serverCert(t, dir, "server")
	url, _ := startTLS(t, srvCert, "")
	code, out, err := filter(tlsClient([]*certificate{srvCert}, nil), url)
	if err != nil || code != http.StatusOK {
		t.Fatalf("filter over TLS: %d %s %v", code, out, err)
	}
	var res extenderv1.ExtenderFilterResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.NodeNames == nil || strings.Join(*res.NodeNames, ",") != "n1" {
		t.Errorf("filter over TLS: %s %v", out, err)
	}
	// A client that does not trust the certificate does not talk to it.
	if _, _, err := filter(tlsClient(nil, nil), url); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a client without the server's CA: %v", err)
	}
}

func TestTLSClientCertificates(t *testing.T) {
	dir := t.TempDir()
	srvCert := serverCert(t, dir, "server")
	ca := caCert(t, dir, "client-ca")
	scheduler := clientCert(t, dir, "kube-scheduler", ca)
	rogue := clientCert(t, dir, "rogue", caCert(t, dir, "other-ca"))
	url, _ := startTLS(t, srvCert, ca.certFile)
	roots := []*certificate{srvCert}

	// kube-scheduler, with a certificate the client CA signed: answered.
	if code, out, err := filter(tlsClient(roots, scheduler), url); err != nil || code != http.StatusOK || !strings.Contains(out, `"NodeNames":["n1"]`) {
		t.Errorf("with a client certificate: %d %s %v", code, out, err)
	}
	// Without a certificate: refused before the body is read, with the reason.
	code, out, err := filter(tlsClient(roots, nil), url)
	if err != nil || code != http.StatusForbidden || !strings.Contains(out, "client certificate signed by the extender's client CA (--tls-client-ca) is required") {
		t.Errorf("without a client certificate: %d %q %v", code, out, err)
	}
	// With a certificate of another CA: Go's client does not even send it
	// (the server names the CAs it accepts), so it is refused like no
	// certificate; a client that sends it anyway fails the handshake.
	if code, _, err := filter(tlsClient(roots, rogue), url); err == nil && code != http.StatusForbidden {
		t.Errorf("a client certificate of another CA: %d", code)
	}
	forced := tlsClient(roots, nil)
	forced.Transport.(*http.Transport).TLSClientConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		return &rogue.keyPair, nil
	}
	if code, _, err := filter(forced, url); err == nil {
		t.Errorf("a client certificate of another CA, sent anyway, was accepted: %d", code)
	}
	// The probes and metrics need none (the kubelet presents none).
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		resp, err := tlsClient(roots, nil).Get(url + path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s without a client certificate: %d", path, resp.StatusCode)
		}
	}
}

// TestTLSReload: a renewed certificate written over the files is served to
// the next connections, and a bad one leaves the previous one in place.
func TestTLSReload(t *testing.T) {
	dir := t.TempDir()
	first := serverCert(t, dir, "server")
	url, secure := startTLS(t, first, "")
	renewed := serverCert(t, t.TempDir(), "server")
	served := func() *big.Int {
		t.Helper()
		resp, err := tlsClient([]*certificate{first, renewed}, nil).Get(url + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.TLS.PeerCertificates[0].SerialNumber
	}
	if got := served(); got.Cmp(first.cert.SerialNumber) != 0 {
		t.Fatalf("serving serial %v, want the first certificate's %v", got, first.cert.SerialNumber)
	}
	for file, data := range map[string][]byte{first.certFile: renewed.certPEM, first.keyFile: renewed.keyPEM} {
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// What the file watch or the poll (watch) calls on a change.
	if err := secure.watcher.ReadCertificate(); err != nil {
		t.Fatal(err)
	}
	if got := served(); got.Cmp(renewed.cert.SerialNumber) != 0 {
		t.Errorf("serving serial %v after the renewal, want %v", got, renewed.cert.SerialNumber)
	}
	// A key that does not match the certificate (half a renewal) is not taken.
	if err := os.WriteFile(first.keyFile, first.keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := secure.watcher.ReadCertificate(); err == nil {
		t.Error("a certificate with the wrong key loaded")
	}
	if got := served(); got.Cmp(renewed.cert.SerialNumber) != 0 {
		t.Errorf("serving serial %v after a bad renewal, want the previous %v", got, renewed.cert.SerialNumber)
	}
}

func TestTLSSetupErrors(t *testing.T) {
	dir := t.TempDir()
	srvCert := serverCert(t, dir, "server")
	notPEM := filepath.Join(dir, "ca.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &Config{}
	c.Default()
	if _, _, err := newServer(c, srvCert.certFile, http.NotFoundHandler()); err == nil || !strings.Contains(err.Error(), "needs TLS") {
		t.Errorf("a client CA without TLS: %v", err)
	}
	for _, tc := range []struct {
		files    TLS
		clientCA string
		msg      string
	}{
		{TLS{CertFile: filepath.Join(dir, "missing.crt"), KeyFile: srvCert.keyFile}, "", "missing.crt"},
		{TLS{CertFile: srvCert.certFile, KeyFile: srvCert.keyFile}, filepath.Join(dir, "missing-ca.crt"), "missing-ca.crt"},
		{TLS{CertFile: srvCert.certFile, KeyFile: srvCert.keyFile}, notPEM, "holds no PEM certificate"},
	} {
		c.TLS = &tc.files
		if _, _, err := newServer(c, tc.clientCA, http.NotFoundHandler()); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%+v %s: %v", tc.files, tc.clientCA, err)
		}
	}
}
