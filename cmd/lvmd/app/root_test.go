package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/toposuite/toposuite/lvmd/config"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "lvmd.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFlagsOverrideTheFile(t *testing.T) {
	p := writeConfig(t, "socketName: /from/file.sock\npollInterval: 5s\ndeviceClasses: [{name: a, volumeGroup: vg, default: true}]\n")
	var got *config.Config
	cmd := newCommand(func(_ context.Context, cfg *config.Config, _ logr.Logger) error { got = cfg; return nil })
	cmd.SetArgs([]string{"--config", p, "--socket", "/from/flag.sock", "--poll-interval", "300ms", "--lvm-path", "/opt/lvm"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.SocketName != "/from/flag.sock" || got.PollInterval.Duration != 300*time.Millisecond || got.LVM.Path != "/opt/lvm" {
		t.Errorf("flags not applied: %+v", got)
	}
}

func TestFileValuesKeptWithoutFlags(t *testing.T) {
	p := writeConfig(t, "socketName: /from/file.sock\npollInterval: 5s\ndeviceClasses: [{name: a, volumeGroup: vg, default: true}]\n")
	var got *config.Config
	cmd := newCommand(func(_ context.Context, cfg *config.Config, _ logr.Logger) error { got = cfg; return nil })
	cmd.SetArgs([]string{"--config", p})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.SocketName != "/from/file.sock" || got.PollInterval.Duration != 5*time.Second {
		t.Errorf("file values lost: %+v", got)
	}
}

func TestInvalidConfigIsRefusedBeforeRunning(t *testing.T) {
	p := writeConfig(t, "deviceClasses: [{name: a, volumeGroup: vg, default: true}, {name: b, volumeGroup: vg, default: true}]\n")
	ran := false
	cmd := newCommand(func(context.Context, *config.Config, logr.Logger) error { ran = true; return nil })
	cmd.SetArgs([]string{"--config", p})
	err := cmd.Execute()
	if err == nil || ran || !strings.Contains(err.Error(), "exactly one class must be the default") {
		t.Errorf("err = %v, ran = %v", err, ran)
	}
}
