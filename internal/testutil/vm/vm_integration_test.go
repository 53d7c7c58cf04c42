//go:build integration

package vm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// One boot checks what the lane relies on: packed files arrive with their
// content and mode, the disks are there with their size, device-mapper and
// its targets are in the kernel, and the command's exit status comes back.
func TestIntegrationVMHarness(t *testing.T) {
	file := filepath.Join(t.TempDir(), "hello")
	if err := os.WriteFile(file, []byte("hello from the host\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	r := Run(t, Options{
		Disks:    2,
		DiskSize: 64 << 20,
		Files:    map[string]string{"/data/sub/hello": file},
		Command: `set -e
cat /data/sub/hello
stat -c 'mode=%a' /data/sub/hello
echo "disks=$(cat /sys/block/vda/size)/$(cat /sys/block/vdb/size)"
grep -q device-mapper /proc/misc && echo dm=yes
echo "in_vm=$TOPOSUITE_IN_VM"
exit 3`,
	})
	if r.ExitCode != 3 {
		t.Errorf("exit code = %d, want 3", r.ExitCode)
	}
	for _, want := range []string{"hello from the host", "mode=640", "disks=131072/131072", "dm=yes", "in_vm=1"} {
		if !strings.Contains(r.Output, want) {
			t.Errorf("console lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("console:\n%s", r.Output)
	}
	t.Logf("boot %v, whole run %v", r.Boot, r.Elapsed)
}
