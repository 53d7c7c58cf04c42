//go:build integration

package lvmd_test

import (
	"path/filepath"
	"strconv"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/toposuite/toposuite/internal/daemon"
	api "github.com/toposuite/toposuite/internal/daemonapi"
	"github.com/toposuite/toposuite/internal/testutil"
	"github.com/toposuite/toposuite/lvmd/config"
)

// BenchmarkScaleVolumes measures lvmd (in this process, as topolvm-node
// embeds it, polling every second; LVM metadata-only on this host) with 10,
// 100, 1,000 and 5,000 existing LVs in one VG: create and remove latency,
// idle CPU of lvmd and its lvm shells with a Watch stream open, RSS, how
// long an LV made with the lvm CLI takes to show in the Watch stream, and
// a restart's time to its first answer. make bench-scale runs it.
func BenchmarkScaleVolumes(b *testing.B) {
	sizes := testutil.ScaleSizes(b)
	testutil.RequireRoot(b)
	testutil.RequireTools(b, "lvm", "losetup")
	dir := testutil.Dir(b)
	dev := testutil.LoopDevice(b, dir, 64*gib)
	env := testutil.NewLVMEnv(b, dev)
	// LVM keeps every LV in a text metadata area, ~1 KiB each, written
	// twice (ring buffer): the default 1 MiB holds a few hundred.
	env.LVM(b, "pvcreate", "-y", "--metadatasize", "64m", dev)
	vg := testutil.UniqueName("scalevg")
	env.VG(b, vg, dev)
	zero := resource.MustParse("0")
	r := &rig{t: b, env: env, vg: vg, cfg: &config.Config{
		Settings:      daemon.Settings{SocketName: filepath.Join(dir, "lvmd.sock"), PollInterval: &metav1.Duration{Duration: daemon.DefaultPollInterval}},
		LVM:           config.LVMSettings{Path: "lvm", Env: env.EnvMap()},
		DeviceClasses: []config.DeviceClass{{Name: "ssd", VolumeGroup: vg, Default: true, Spare: &zero}},
	}}
	r.cfg.Default()
	r.start()
	b.Cleanup(func() { r.stop() })
	rows := testutil.MeasureScale(b, sizes, testutil.ScaleRig{
		Client:  func() api.StorageDaemonClient { return r.client },
		Restart: func() { r.stop(); r.start() },
		Create: func(name string) *api.CreateVolumeRequest {
			return &api.CreateVolumeRequest{Name: name, SizeBytes: 4 * mib}
		},
		OutOfBand: func(i int) (func(*api.CapacityResponse) bool, func()) {
			before := r.available()
			name := "byhand-" + strconv.Itoa(i)
			env.LVM(b, "lvcreate", "-y", "-n", name, "-L", "64m", vg)
			return func(m *api.CapacityResponse) bool { return m.Classes[0].AvailableBytes <= before-64*mib },
				func() { env.LVM(b, "lvremove", "-y", vg+"/"+name) }
		},
	})
	testutil.PrintScale(b, "lvmd", rows)
}
