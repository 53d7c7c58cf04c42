package agent

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/toposuite/toposuite/internal/disk"
)

// A host root laid out like a node with udev: by-id links and sysfs flags.
func TestDeviceDetails(t *testing.T) {
	root := t.TempDir()
	byID := filepath.Join(root, "dev/disk/by-id")
	for _, d := range []string{byID, filepath.Join(root, "sys/class/block/sdb/queue"), filepath.Join(root, "sys/class/block/nvme0n1/queue")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{
		"ata-HDD_1234": "../../sdb", "wwn-0x5000": "../../sdb", "nvme-SSD_99": "../../nvme0n1",
	} {
		if err := os.Symlink(target, filepath.Join(byID, link)); err != nil {
			t.Fatal(err)
		}
	}
	for dev, flag := range map[string]string{"sdb": "1\n", "nvme0n1": "0\n"} {
		if err := os.WriteFile(filepath.Join(root, "sys/class/block", dev, "queue/rotational"), []byte(flag), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := &Collector{sources: Sources{HostRoot: root}}
	want := map[string][]string{
		"/dev/sdb":     {"/dev/disk/by-id/ata-HDD_1234", "/dev/disk/by-id/wwn-0x5000"},
		"/dev/nvme0n1": {"/dev/disk/by-id/nvme-SSD_99"},
	}
	if d := cmp.Diff(want, c.byID()); d != "" {
		t.Errorf("byID (-want +got):\n%s", d)
	}
	if !c.rotational(disk.Device{Path: "/dev/sdb", KernelName: "/dev/sdb"}) || c.rotational(disk.Device{Path: "/dev/nvme0n1"}) {
		t.Error("rotational: want sdb rotational and nvme0n1 not")
	}
	if c.rotational(disk.Device{Path: "/dev/loop9"}) {
		t.Error("a device without a sysfs flag is rotational")
	}
}
