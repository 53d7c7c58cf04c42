package app

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/toposuite/toposuite/scheduler"
)

// executeOptions is execute that also returns the client CA handed to Run.
func executeOptions(t *testing.T, args ...string) (scheduler.Options, error) {
	t.Helper()
	var got scheduler.Options
	cmd := newCommand(func(_ context.Context, o scheduler.Options) error { got = o; return nil })
	cmd.SetArgs(append(args, "--kubeconfig", filepath.Join("testdata", "kubeconfig")))
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	return got, cmd.Execute()
}

func TestMaxRequestBytes(t *testing.T) {
	dir := t.TempDir()
	file := func(content string) string {
		path := filepath.Join(dir, "scheduler.yaml")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	for _, tc := range []struct {
		name, config string
		args         []string
		want         int64
	}{
		{"default", "scoring: spread\n", nil, scheduler.DefaultBodyLimit},
		{"no config file", "", nil, scheduler.DefaultBodyLimit},
		{"the file's key", "maxRequestBytes: 1000\n", nil, 1000},
		{"the flag over the file", "maxRequestBytes: 1000\n", []string{"--max-request-bytes", "128Mi"}, 128 << 20},
		{"the flag in bytes", "", []string{"--max-request-bytes=2000000"}, 2000000},
	} {
		args := tc.args
		if tc.config != "" {
			args = append(args, "--config", file(tc.config))
		}
		c, err := execute(t, args...)
		if err != nil || c.MaxRequestBytes != tc.want {
			t.Errorf("%s: %v, %v; want %d", tc.name, c, err, tc.want)
		}
	}
	for _, bad := range []string{"0", "-1", "lots"} {
		if _, err := execute(t, "--max-request-bytes", bad); err == nil || !strings.Contains(err.Error(), "--max-request-bytes") {
			t.Errorf("--max-request-bytes %s: %v", bad, err)
		}
	}
}

func TestTLSFlags(t *testing.T) {
	o, err := executeOptions(t, "--tls-cert-file", "/tls/tls.crt", "--tls-key-file", "/tls/tls.key", "--tls-client-ca", "/ca/ca.crt")
	if err != nil || o.Config.TLS == nil || o.Config.TLS.CertFile != "/tls/tls.crt" || o.Config.TLS.KeyFile != "/tls/tls.key" || o.ClientCAFile != "/ca/ca.crt" {
		t.Errorf("%+v %v", o, err)
	}
	if o, err = executeOptions(t); err != nil || o.Config.TLS != nil || o.ClientCAFile != "" {
		t.Errorf("plain HTTP is the default: %+v %v", o, err)
	}
	for _, args := range [][]string{
		{"--tls-cert-file", "/tls/tls.crt"},
		{"--tls-key-file", "/tls/tls.key"},
	} {
		if _, err := executeOptions(t, args...); err == nil || !strings.Contains(err.Error(), "go together") {
			t.Errorf("%v: %v", args, err)
		}
	}
	if _, err := executeOptions(t, "--tls-client-ca", "/ca/ca.crt"); err == nil || !strings.Contains(err.Error(), "needs HTTPS") {
		t.Errorf("a client CA without HTTPS: %v", err)
	}
}
