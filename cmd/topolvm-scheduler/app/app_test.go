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

func execute(t *testing.T, args ...string) (*scheduler.Config, error) {
	t.Helper()
	var got *scheduler.Config
	cmd := newCommand(func(_ context.Context, o scheduler.Options) error { got = o.Config; return nil })
	cmd.SetArgs(append(args, "--kubeconfig", filepath.Join("testdata", "kubeconfig")))
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	return got, cmd.Execute()
}

func TestConfigFileAndFlags(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scheduler.yaml")
	if err := os.WriteFile(path, []byte("scoring: binpack\ndrivers: [topolvm.io]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := execute(t, "--config", path, "--listen", "127.0.0.1:1234")
	if err != nil {
		t.Fatal(err)
	}
	if c.Scoring != scheduler.ScoringBinpack || c.Listen != "127.0.0.1:1234" || len(c.Drivers) != 1 {
		t.Errorf("config %+v", c)
	}
	if c, err = execute(t, "--config", path, "--scoring", "spread"); err != nil || c.Scoring != scheduler.ScoringSpread {
		t.Errorf("--scoring did not override: %+v %v", c, err)
	}
	if _, err := execute(t, "--config", path, "--scoring", "random"); err == nil || !strings.Contains(err.Error(), `scoring "random"`) {
		t.Errorf("bad --scoring: %v", err)
	}
	if err := os.WriteFile(path, []byte("scoring: binpack\nunknown: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := execute(t, "--config", path); err == nil || !strings.Contains(err.Error(), "unknown") {
		t.Errorf("unknown key: %v", err)
	}
	if _, err := execute(t, "--config", filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("a missing --config file was accepted")
	}
}
