package controllerplugin

import (
	"strings"
	"testing"

	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"
)

func TestWebhookServer(t *testing.T) {
	s, err := webhookServer("", "")
	if s != nil || err != nil {
		t.Errorf("no address: %v, %v; want no server", s, err)
	}
	s, err = webhookServer("127.0.0.1:9443", "/certs")
	if err != nil {
		t.Fatal(err)
	}
	o := s.(*crwebhook.DefaultServer).Options
	if o.Host != "127.0.0.1" || o.Port != 9443 || o.CertDir != "/certs" || len(o.TLSOpts) != 1 {
		t.Errorf("options %+v", o)
	}
	if s, err = webhookServer(":9443", "/certs"); err != nil || s.(*crwebhook.DefaultServer).Options.Host != "" {
		t.Errorf(":9443: %v", err)
	}
	for addr, want := range map[string]string{
		"9443":       "missing port",
		":https":     "bad port",
		":0":         "bad port",
		":70000":     "bad port",
		"[::1]:9443": "",
	} {
		_, err := webhookServer(addr, "/certs")
		if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("%q: %v, want %q", addr, err, want)
		}
	}
	if _, err := webhookServer(":9443", ""); err == nil {
		t.Error("a webhook without a certificate directory was accepted")
	}
}
