//go:build e2e

package cluster

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Scripts of the data tests: 16 MiB of random data written (fsynced) to
// a volume, its checksum, and what the pod sees of the volume; then the
// same checksum read back by another pod.
const (
	writeFile = `dd if=/dev/urandom of=/data0/f bs=1M count=16 conv=fsync 2>/dev/null
echo "sum=$(md5sum < /data0/f)"
echo "mount=$(grep ' /data0 ' /proc/mounts)"
`
	readFile   = `echo "sum=$(md5sum < /data0/f)"`
	writeBlock = `dd if=/dev/urandom of=/tmp/f bs=1M count=16 2>/dev/null
dd if=/tmp/f of=/dev/block0 bs=1M conv=fsync 2>/dev/null
echo "sum=$(md5sum < /tmp/f)"
echo "size=$(blockdev --getsize64 /dev/block0)"
`
	readBlock = `echo "sum=$(dd if=/dev/block0 bs=1M count=16 2>/dev/null | md5sum)"`
)

// volumeKind is what a PVC asks for: a filesystem type or a raw block device.
type volumeKind struct {
	name, fsType string
	block        bool
}

// kinds are the volume kinds of a driver: LVM volumes are block devices
// formatted on first use; TopoLS volumes are btrfs subvolumes, which have
// no raw block form.
func kinds(d driverCase) []volumeKind {
	if d.driver == "topols.io" {
		return []volumeKind{{name: "btrfs", fsType: "btrfs"}}
	}
	return []volumeKind{{name: "ext4", fsType: "ext4"}, {name: "xfs", fsType: "xfs"}, {name: "btrfs", fsType: "btrfs"}, {name: "block", block: true}}
}

// TestE2EProvisioning: on each driver, with WaitForFirstConsumer and with
// Immediate binding, every volume kind: a pod writes data, the volume is
// on the pod's node (LogicalVolume object and the real LV or subvolume),
// mounted with the asked filesystem (or a block device of the asked
// size), a second pod reads the same data back; deleting the PVC removes
// the PV, the LogicalVolume and the LV or subvolume.
func TestE2EProvisioning(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, d := range drivers {
		for _, mode := range []storagev1.VolumeBindingMode{storagev1.VolumeBindingWaitForFirstConsumer, storagev1.VolumeBindingImmediate} {
			for _, k := range kinds(d) {
				name := d.name + "-" + strings.ToLower(string(mode)) + "-" + k.name
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					e := e.with(t)
					params := map[string]string{}
					if !k.block {
						params["csi.storage.k8s.io/fstype"] = k.fsType
					}
					sc := e.storageClass(name, d.driver, params, mode)
					provisionWriteRead(e, name, sc, k, mode == storagev1.VolumeBindingImmediate)
				})
			}
		}
	}
}

func provisionWriteRead(e *env, name, sc string, k volumeKind, immediate bool) {
	t := e.t
	e.createPVC(claim{name: name, sc: sc, size: "1Gi", block: k.block})
	var pv *corev1.PersistentVolume
	if immediate {
		// Bound before any pod exists: the driver chose the node.
		pv = e.bound(name)
	}
	v := vol{src: pvcVol(name).src, block: k.block}
	write, read := writeFile, readFile
	if k.block {
		write, read = writeBlock, readBlock
	}
	wlog, node := e.run(name+"-writer", write, v)
	if pv == nil {
		pv = e.bound(name)
	}
	vl := pvVolume(pv)
	if vl.node != node {
		t.Errorf("the pod ran on %s, the volume is on %s", node, vl.node)
	}
	if k.block {
		if got := logValue(wlog, "size"); got != "1073741824" {
			t.Errorf("block device size in the pod: %q, want 1073741824", got)
		}
	} else if f := strings.Fields(logValue(wlog, "mount")); len(f) < 3 || f[2] != k.fsType {
		t.Errorf("mount in the pod: %q, want a %s filesystem", logValue(wlog, "mount"), k.fsType)
	}
	if s, ok := e.onNode(vl); !ok {
		t.Errorf("on node %s: %s", node, s)
	} else {
		t.Logf("node %s: %s", node, s)
	}
	if lv := e.logicalVolume(vl.handle); lv == nil {
		t.Errorf("no LogicalVolume %s", vl.handle)
	} else if n, _, _ := unstructured.NestedString(lv.Object, "spec", "nodeName"); n != node {
		t.Errorf("LogicalVolume %s: spec.nodeName %q, want %s", vl.handle, n, node)
	}
	rlog, rnode := e.run(name+"-reader", read, v)
	if want, got := logValue(wlog, "sum"), logValue(rlog, "sum"); want == "" || got != want {
		t.Errorf("read back checksum %q, written %q", got, want)
	}
	if rnode != node {
		t.Errorf("the reader ran on %s, the volume is on %s", rnode, node)
	}
	e.deletePod(name + "-writer")
	e.deletePod(name + "-reader")
	e.deletePVC(name, vl)
}
