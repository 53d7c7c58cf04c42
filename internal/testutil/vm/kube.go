package vm

import (
	"net"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/toposuite/toposuite/internal/scheme"
	"github.com/toposuite/toposuite/internal/testutil"
)

// HostAddr is where the guest reaches the host's loopback over qemu's user
// network (Options.Network).
const HostAddr = "10.0.2.2"

const (
	kubeconfigEnv   = "TOPOSUITE_VM_KUBECONFIG"
	guestKubeconfig = "/toposuite/kubeconfig"
)

// UseAPIServer lets the tests in the guest reach the API server of cfg,
// which listens on the host's loopback: it turns the network on, packs a
// kubeconfig naming HostAddr and tells the guest where it is (GuestConfig
// reads it there). The API server's certificate names the loopback address,
// not HostAddr, so the kubeconfig keeps that name for the TLS check and
// verifies the server against its CA as usual.
func (o *GoTestOptions) UseAPIServer(t testing.TB, cfg *rest.Config) {
	t.Helper()
	u, err := url.Parse(cfg.Host)
	if err != nil || u.Host == "" {
		// rest.Config allows a bare host:port.
		u, err = url.Parse("https://" + cfg.Host)
	}
	if err != nil {
		t.Fatalf("VM lane: API server address %q: %v", cfg.Host, err)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		t.Fatalf("VM lane: API server address %q: %v", cfg.Host, err)
	}
	serverName := cfg.TLSClientConfig.ServerName
	if serverName == "" {
		serverName = host
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["host"] = &clientcmdapi.Cluster{
		Server:                   "https://" + net.JoinHostPort(HostAddr, port),
		TLSServerName:            serverName,
		CertificateAuthorityData: cfg.TLSClientConfig.CAData,
	}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{
		ClientCertificateData: cfg.TLSClientConfig.CertData,
		ClientKeyData:         cfg.TLSClientConfig.KeyData,
		Token:                 cfg.BearerToken,
	}
	kc.Contexts["host"] = &clientcmdapi.Context{Cluster: "host", AuthInfo: "admin"}
	kc.CurrentContext = "host"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatalf("VM lane: kubeconfig: %v", err)
	}
	o.Network = true
	if o.Files == nil {
		o.Files = map[string]string{}
	}
	o.Files[guestKubeconfig] = path
	o.Env = append(o.Env, kubeconfigEnv+"="+guestKubeconfig)
}

// GuestAPIServer is, in the guest, the API server the host test handed
// over with UseAPIServer, as testutil.APIServer returns one on the host: its
// config and a client with the project's scheme. The guest's clock is the
// host's (qemu's RTC), so the server's certificate is valid there too.
func GuestAPIServer(t testing.TB) (*rest.Config, client.Client) {
	t.Helper()
	path := os.Getenv(kubeconfigEnv)
	if path == "" {
		t.Fatalf("VM lane: %s is not set: the host test did not hand over an API server", kubeconfigEnv)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatalf("VM lane: kubeconfig %s: %v", path, err)
	}
	// controller-runtime's packages log through a global logger, which
	// would otherwise complain on the console that none is set.
	ctrllog.SetLogger(logr.Discard())
	s, err := scheme.New()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: s})
	if err != nil {
		t.Fatal(err)
	}
	return cfg, c
}

// RequireGuest skips the test outside the VM lane's guest and fails it when
// the guest's kernel has no device-mapper: for the tests the host side
// runs there.
func RequireGuest(t testing.TB) {
	t.Helper()
	if os.Getenv("TOPOSUITE_IN_VM") != "1" {
		t.Skip("runs in the VM lane only (make test-vm)")
	}
	if !testutil.DeviceMapper() {
		t.Fatal("the VM's kernel has no device-mapper")
	}
}
