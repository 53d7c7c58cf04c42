//go:build integration && vminner

package csi_test

import (
	"strconv"
	"testing"
)

// TestVMSanity runs csi-sanity against TopoLVM on real device-mapper, with
// no spec skipped: thin and thick snapshots, clones and online expansion,
// which the host cannot run (sanity_test.go says why), and NodeGetVolumeStats
// on each kind of volume. The thin class runs every spec; the thick class,
// for each filesystem and for Block volumes, the node's specs and the
// controller's expansion (the rest of the controller's specs do not depend
// on the filesystem and ran with the thin class already).
func TestVMSanity(t *testing.T) {
	pvs := vmDisks[:2]
	for _, c := range []struct {
		name, class, fs string
		// size is the volumes' size: mkfs.xfs wants 300 MiB; the kernel
		// resizes no btrfs to under 256 MiB, so btrfs volumes start there.
		size  int64
		extra []string
	}{
		{name: "thin-ext4-all-specs", class: classThin, fs: "ext4", size: 64 * mib},
		{name: "thick-ext4", class: classThick, fs: "ext4", size: 64 * mib, extra: []string{"-ginkgo.focus", "Node Service|ExpandVolume|Snapshot"}},
		{name: "thick-xfs", class: classThick, fs: "xfs", size: 300 * mib, extra: []string{"-ginkgo.focus", "Node Service|ExpandVolume"}},
		{name: "thick-btrfs", class: classThick, fs: "btrfs", size: 256 * mib, extra: []string{"-ginkgo.focus", "Node Service|ExpandVolume"}},
		{name: "thick-block", class: classThick, size: 64 * mib, extra: []string{"-csi.testvolumeaccesstype", "block", "-ginkgo.focus", "Node Service|ExpandVolume"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newVMRig(t, vmRigSpec{pvs: pvs, pool: 1 << 30, overprovision: 10, fs: c.fs})
			args := append([]string{
				"-csi.testvolumesize", strconv.FormatInt(c.size, 10),
				"-csi.testvolumeexpandsize", strconv.FormatInt(2*c.size, 10),
			}, c.extra...)
			runSanity(t, r.plugins, "topolvm.io/device-class: "+c.class+"\n", nil, args...)
		})
	}
}
