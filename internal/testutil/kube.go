package testutil

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/toposuite/toposuite/internal/exec"
)

// Kubeconfig writes a kubeconfig file for programs (helm, kubectl, the
// Kubernetes controllers, CSI sidecars) from a rest.Config.
func Kubeconfig(t testing.TB, cfg *rest.Config) string {
	t.Helper()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["test"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["test"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "test"}
	kc.CurrentContext = "test"
	path := filepath.Join(Dir(t), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// Process runs a long-lived program (a Kubernetes controller, a CSI
// sidecar) until the test ends, when it is killed; its output is logged if
// the test failed or the program exited early.
func Process(t testing.TB, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var res exec.Result
	var err error
	go func() {
		defer close(done)
		res, err = exec.NewLocal(exec.Options{}).Run(ctx, name, args...)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() || !errors.Is(err, context.Canceled) {
			t.Logf("%s exited (%v); its last output:\n%s", filepath.Base(name), err, tail(res.Stderr, 4000))
		}
	})
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
