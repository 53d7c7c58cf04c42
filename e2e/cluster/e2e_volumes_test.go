//go:build e2e

package cluster

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestE2EExpansion: a PVC grown while a pod uses it; the pod sees the new
// size: df (xfs, btrfs on LVM), the block device's size, or on TopoLS the
// quota (df there shows the whole btrfs filesystem: a write larger than
// the old size fails before and succeeds after).
//
// The LVM cases use the small device class, one at a time: lvmd's
// development-loop activation (no device-mapper here) can only show an LV
// that is one contiguous run of extents, so an LV can only grow here when
// nothing was allocated after it.
func TestE2EExpansion(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cases := []struct {
		name, driver, fsType string
		block                bool
		from, to             string
	}{
		{name: "topolvm-xfs", driver: "topolvm.io", fsType: "xfs", from: "1Gi", to: "2Gi"},
		{name: "topolvm-btrfs", driver: "topolvm.io", fsType: "btrfs", from: "1Gi", to: "2Gi"},
		{name: "topolvm-ext4", driver: "topolvm.io", fsType: "ext4", from: "1Gi", to: "2Gi"},
		{name: "topolvm-block", driver: "topolvm.io", block: true, from: "1Gi", to: "2Gi"},
		{name: "topols", driver: "topols.io", fsType: "btrfs", from: "256Mi", to: "512Mi"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.fsType == "ext4" {
				t.Skip("online ext4 grow (resize2fs on a mounted filesystem) needs CAP_SYS_RESOURCE, which root lacks on these machines (TESTBED §1)")
			}
			e := e.with(t)
			params := map[string]string{}
			if !tc.block {
				params["csi.storage.k8s.io/fstype"] = tc.fsType
			}
			if tc.driver == "topolvm.io" {
				params["topolvm.io/device-class"] = smallClass
				smallClassMu[tc.driver].Lock()
				defer smallClassMu[tc.driver].Unlock()
			}
			sc := e.storageClass(tc.name, tc.driver, params, storagev1.VolumeBindingWaitForFirstConsumer)
			e.createPVC(claim{name: tc.name, sc: sc, size: tc.from, block: tc.block})
			pod := tc.name + "-user"
			e.createPod(e.pod(pod, "", vol{src: pvcVol(tc.name).src, block: tc.block}))
			e.waitPod(pod, corev1.PodRunning)
			from, to := resource.MustParse(tc.from), resource.MustParse(tc.to)
			// What the pod sees of the volume's size, in bytes.
			size := func() int64 {
				if tc.block {
					n, _ := strconv.ParseInt(strings.TrimSpace(e.mustExec(pod, "blockdev --getsize64 /dev/block0")), 10, 64)
					return n
				}
				f := strings.Fields(e.mustExec(pod, "df -k /data0 | tail -1"))
				if len(f) < 2 {
					return 0
				}
				n, _ := strconv.ParseInt(f[1], 10, 64)
				return n << 10
			}
			// TopoLS: past the old quota, a write fails.
			over := fmt.Sprintf("dd if=/dev/zero of=/data0/f bs=1M count=%d conv=fsync 2>&1", from.Value()>>20+64)
			var before int64
			if tc.driver == "topols.io" {
				if out, err := e.exec(pod, over); err == nil || !strings.Contains(out, "quota") {
					t.Fatalf("writing %s past the %s quota: err %v, output %q; want Disk quota exceeded", over, tc.from, err, out)
				}
				e.mustExec(pod, "rm -f /data0/f; sync")
			} else {
				before = size()
			}
			p, err := e.cs.CoreV1().PersistentVolumeClaims(e.ns).Patch(e.ctx, tc.name, types.MergePatchType,
				[]byte(`{"spec":{"resources":{"requests":{"storage":"`+tc.to+`"}}}}`), metav1.PatchOptions{})
			if err != nil {
				t.Fatal(err)
			}
			e.waitFor("PVC "+tc.name+" capacity "+tc.to, 2*time.Minute, func() (bool, error) {
				p, err = e.cs.CoreV1().PersistentVolumeClaims(e.ns).Get(e.ctx, tc.name, metav1.GetOptions{})
				if err != nil {
					return false, err
				}
				c := p.Status.Capacity[corev1.ResourceStorage]
				return c.Cmp(to) >= 0, nil
			})
			if tc.driver == "topols.io" {
				out, err := e.exec(pod, over)
				if err != nil {
					t.Fatalf("after growing to %s, writing past the old quota: %v: %s", tc.to, err, out)
				}
				t.Logf("grown to %s: %q in the pod succeeded; df: %s", tc.to, over, e.mustExec(pod, "df -k /data0 | tail -1"))
			} else {
				// The kubelet grows the filesystem of a mounted volume on
				// its next pass over the pod's volumes.
				var after int64
				e.waitFor("the pod sees the grown volume", 2*time.Minute, func() (bool, error) {
					after = size()
					return after-before >= (to.Value()-from.Value())*9/10, nil
				})
				t.Logf("size in the pod: %d -> %d bytes", before, after)
			}
			e.deletePod(pod)
			e.deletePVC(tc.name, pvVolume(e.bound(tc.name)))
		})
	}
}

// TestE2EReadOnly: a PVC written by one pod, then used read-only by
// another (the claim's readOnly: the driver publishes it read-only): the
// data reads back, a write fails.
func TestE2EReadOnly(t *testing.T) {
	eachDriver(t, func(e *env, d driverCase) {
		t := e.t
		name := d.name
		e.createPVC(claim{name: name, sc: d.sc, size: "1Gi"})
		wlog, _ := e.run(name+"-writer", writeFile, pvcVol(name))
		ro := pvcVol(name)
		ro.src.PersistentVolumeClaim.ReadOnly = true
		rlog, _ := e.run(name+"-reader", readFile+`
if touch /data0/new 2>/tmp/err; then echo "write=succeeded"; else echo "write=failed: $(cat /tmp/err)"; fi
echo "mount=$(grep ' /data0 ' /proc/mounts)"
`, ro)
		if want, got := logValue(wlog, "sum"), logValue(rlog, "sum"); want == "" || got != want {
			t.Errorf("read-only: checksum %q, written %q", got, want)
		}
		if w := logValue(rlog, "write"); !strings.Contains(w, "Read-only file system") {
			t.Errorf("writing to the read-only volume: %q, want Read-only file system", w)
		}
		if f := strings.Fields(logValue(rlog, "mount")); len(f) < 4 || !strings.HasPrefix(f[3], "ro") {
			t.Errorf("mount in the pod: %q, want ro", logValue(rlog, "mount"))
		}
	})
}

// TestE2EGenericEphemeral: a pod's generic ephemeral volume on each
// driver: the PVC is made for the pod, the pod writes to it, and deleting
// the pod removes the PVC, PV and LV or subvolume.
func TestE2EGenericEphemeral(t *testing.T) {
	eachDriver(t, func(e *env, d driverCase) {
		t := e.t
		cl := claim{sc: d.sc, size: "1Gi"}
		p := e.pod(d.name, writeFile, vol{src: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{
			VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{Spec: cl.spec()}}}})
		log, node := e.runPod(p)
		pvcName := d.name + "-v0"
		pv := e.bound(pvcName)
		v := pvVolume(pv)
		if v.node != node || v.driver != d.driver {
			t.Errorf("PV %s: driver %s on %s; want %s on the pod's node %s", pv.Name, v.driver, v.node, d.driver, node)
		}
		if logValue(log, "sum") == "" {
			t.Errorf("the pod wrote nothing: %s", log)
		}
		if s, ok := e.onNode(v); !ok {
			t.Errorf("on node %s: %s", node, s)
		}
		e.deletePod(d.name)
		e.waitVolumeGone(v)
	})
}

// TestE2EInlineEphemeral: CSI inline ephemeral volumes (size from the
// volume attributes) on both drivers: made on the pod's node when the pod
// starts, written, and removed when the pod goes.
func TestE2EInlineEphemeral(t *testing.T) {
	eachDriver(t, func(e *env, d driverCase) {
		t := e.t
		src := corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: d.driver, VolumeAttributes: map[string]string{"size": "256Mi"}}}
		pod := d.name
		e.createPod(e.pod(pod, "", vol{src: src}))
		node := e.waitPod(pod, corev1.PodRunning).Spec.NodeName
		out := e.mustExec(pod, writeFile)
		if logValue(out, "sum") == "" {
			t.Errorf("the pod wrote nothing: %s", out)
		}
		eph := e.ephemeralVolumes(d.driver, node)
		if len(eph) != 1 {
			t.Errorf("ephemeral volumes of %s on %s: %v, want one", d.driver, node, eph)
		}
		t.Logf("on %s: %v; in the pod: %s", node, eph, logValue(out, "mount"))
		e.deletePod(pod)
		e.waitFor("the ephemeral volume removed from "+node, time.Minute, func() (bool, error) {
			return len(e.ephemeralVolumes(d.driver, node)) == 0, nil
		})
	})
}

// ephemeralVolumes lists the inline ephemeral volumes of a driver on a
// node (LVs or subvolumes named <driver short name>-eph-...).
func (e *env) ephemeralVolumes(driver, node string) []string {
	e.t.Helper()
	var out string
	var err error
	prefix := "topolvm-eph-"
	if driver == "topols.io" {
		prefix = "topols-eph-"
		out, err = e.InNode(e.ctx, node, "btrfs", "subvolume", "list", "-o", poolPath)
	} else {
		out, err = e.InNode(e.ctx, node, "lvm", "lvs", "--noheadings", "-o", "lv_name", vgName)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	var names []string
	for _, f := range strings.Fields(out) {
		if strings.HasPrefix(f, prefix) {
			names = append(names, f)
		}
	}
	return names
}
