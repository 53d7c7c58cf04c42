//go:build integration

package agent_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	btrfsdapp "github.com/toposuite/toposuite/cmd/btrfsd/app"
	lvmdapp "github.com/toposuite/toposuite/cmd/lvmd/app"
	"github.com/toposuite/toposuite/internal/disk"
	"github.com/toposuite/toposuite/internal/exec"
	"github.com/toposuite/toposuite/internal/operator/agent"
	"github.com/toposuite/toposuite/internal/operator/report"
	"github.com/toposuite/toposuite/internal/testutil"
)

const mib = int64(1) << 20

// runPrepare runs `<binary> prepare` the way the charts' init containers
// do (--keep-going, --report-file) with the config body.
func runPrepare(t *testing.T, cmd *cobra.Command, dir, name, config, reportFile string) {
	t.Helper()
	cfg := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errs bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errs)
	cmd.SetArgs([]string{"prepare", "--config", cfg, "--keep-going", "--report-file", reportFile})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("%s prepare: %v\n%s", name, err, errs.String())
	}
}

// TestIntegrationAgentReportsNode prepares a volume group and a btrfs pool
// with the real prepare commands, adds a device holding ext4 to the volume
// group (refused, and lvmd prepare still succeeds), then checks the node's
// report through a real API server: the volume group with its device and
// the refusal naming ext4, the pool measured, a blank device discovered,
// the ext4 device intact; and that a refresh request is answered.
func TestIntegrationAgentReportsNode(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTools(t, "lvm", "mkfs.btrfs", "btrfs", "mkfs.ext4", "losetup", "lsblk", "wipefs", "findmnt")
	cfg, plain := testutil.APIServer(t)
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: plain.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	dir := testutil.Dir(t)
	member := testutil.LoopDevice(t, dir, 64*mib)
	withExt4 := testutil.LoopDevice(t, dir, 64*mib)
	blank := testutil.LoopDevice(t, dir, 64*mib)
	poolDev := testutil.LoopDevice(t, dir, 256*mib)
	testutil.MkfsExt4(t, withExt4)
	env := testutil.NewLVMEnv(t, member, withExt4, blank, poolDev)
	vg := testutil.UniqueName("agentvg")
	t.Cleanup(func() {
		_, _ = testutil.RunErr(env.Env, "lvm", "vgremove", "-f", "-y", vg)
		_, _ = testutil.RunErr(env.Env, "lvm", "pvremove", "-y", "-ff", member)
	})
	pool := filepath.Join(dir, "pool")
	t.Cleanup(func() {
		if _, err := testutil.RunErr(nil, "findmnt", "--mountpoint", pool); err == nil {
			testutil.Unmount(t, pool)
		}
	})

	reports := filepath.Join(dir, "prepare")
	lvmdReport, btrfsdReport := filepath.Join(reports, "lvmd.json"), filepath.Join(reports, "btrfsd.json")
	lvmEnv := fmt.Sprintf("lvm:\n  env: {LVM_SYSTEM_DIR: %s, LVM_SUPPRESS_FD_WARNINGS: \"1\"}\n", env.Dir)
	vgConfig := func(devs ...string) string {
		return lvmEnv + fmt.Sprintf("volumeGroups:\n- name: %s\n  devices: [%s]\n  minDeviceSize: 32Mi\n", vg, strings.Join(devs, ", "))
	}
	runPrepare(t, lvmdapp.NewCommand(), dir, "lvmd", vgConfig(member), lvmdReport)
	// The device with a filesystem is added to the existing volume group:
	// refused, and prepare ends well so that lvmd would start.
	runPrepare(t, lvmdapp.NewCommand(), dir, "lvmd", vgConfig(member, withExt4), lvmdReport)
	runPrepare(t, btrfsdapp.NewCommand(), dir, "btrfsd", fmt.Sprintf(`commands:
  env: {LVM_SYSTEM_DIR: %s}
pools:
- name: fast
  path: %s
  default: true
  filesystem:
    devices: [%s]
    minDeviceSize: 32Mi
`, env.Dir, pool, poolDev), btrfsdReport)

	col := agent.NewCollector(exec.NewLocal(exec.Options{Env: env.Env, Timeout: time.Minute}), "lvm", agent.Sources{
		HostRoot: "/", LVMDPrepareReport: lvmdReport, BtrfsdPrepareReport: btrfsdReport,
		Criteria: disk.Criteria{IncludeLoop: true, MinSize: 32 * mib},
	})
	const ns, node = "default", "node-1"
	a := agent.New(col, c, agent.Options{Node: node, Namespace: ns, Interval: time.Hour, FileCheck: 100 * time.Millisecond}, testr.New(t))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent: %v", err)
		}
	})

	var r report.NodeReport
	read := func() bool {
		reports, err := report.List(t.Context(), c, ns)
		if err != nil || len(reports) != 1 {
			return false
		}
		r = reports[0]
		return true
	}
	testutil.Eventually(t, "the node's report", read)
	if r.Node != node {
		t.Errorf("report of %q, want %q", r.Node, node)
	}
	i := slices.IndexFunc(r.VolumeGroups, func(v report.VolumeGroup) bool { return v.Name == vg })
	if i < 0 {
		t.Fatalf("volume group %s missing from %+v", vg, r.VolumeGroups)
	}
	got := r.VolumeGroups[i]
	if got.Size <= 0 || got.Free <= 0 || got.Free > got.Size || !slices.Equal(got.Devices, []string{member}) {
		t.Errorf("volume group %+v, want a size, free space and the device %s", got, member)
	}
	if len(got.Refused) != 1 || got.Refused[0].Device != withExt4 || !strings.Contains(got.Refused[0].Reason, "ext4") {
		t.Errorf("refused %+v, want %s refused naming its ext4 filesystem", got.Refused, withExt4)
	}
	if sigs := testutil.Signatures(t, withExt4); !slices.Contains(sigs, "ext4") {
		t.Errorf("the refused device's signatures are %v: its ext4 filesystem was touched", sigs)
	}
	if len(r.Pools) != 1 || r.Pools[0].Name != "fast" || r.Pools[0].Path != pool || r.Pools[0].Size <= 0 ||
		r.Pools[0].Free <= 0 || !slices.Equal(r.Pools[0].Devices, []string{poolDev}) {
		t.Errorf("pools %+v, want fast at %s on %s, measured", r.Pools, pool, poolDev)
	}
	var free []string
	for _, d := range r.Discovered {
		free = append(free, d.Path)
	}
	if !slices.Contains(free, blank) || slices.Contains(free, member) || slices.Contains(free, withExt4) || slices.Contains(free, poolDev) {
		t.Errorf("discovered %v, want %s and none of %s, %s, %s", free, blank, member, withExt4, poolDev)
	}
	if len(r.Errors) != 0 {
		t.Errorf("errors %q", r.Errors)
	}

	// On demand: the operator's request is answered with a new report.
	if err := report.RequestRefresh(t.Context(), c, ns, node, "gen-2"); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the report answering the refresh request", func() bool { return read() && r.Refreshed == "gen-2" })
}
