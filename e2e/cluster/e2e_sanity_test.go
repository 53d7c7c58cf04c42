//go:build e2e

package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestE2ECSISanity runs csi-sanity against each deployed driver: the node
// plugin's socket on node1 and a controller replica's socket, both reached
// from the host through the node's kubelet directory (<lab>/node1/kubelet
// is the node's /var/lib/kubelet). Target and staging paths are made in
// that directory and given to the plugin as the node sees them. Not
// parallel: ListVolumes specs count volumes, which other tests would
// change.
func TestE2ECSISanity(t *testing.T) {
	e := newEnv(t)
	const node = "node1"
	kubelet := e.o.path(node, "kubelet")
	scripts := t.TempDir()
	// csi-sanity runs these with a path of its own; the plugin gets the
	// node's view of a directory under the kubelet directory.
	for name, body := range map[string]string{
		"create": `d=sanity-$(echo "$1" | md5sum | cut -c1-12); mkdir -p "$KUBELET/$d" && echo "/var/lib/kubelet/$d"`,
		"remove": `rm -rf "$KUBELET/${1#/var/lib/kubelet/}"`,
		"check": `p="$KUBELET/${1#/var/lib/kubelet/}"
if [ -f "$p" ]; then echo file; elif [ -d "$p" ]; then echo directory; elif [ -e "$p" ]; then echo other; else echo not_found; fi`,
	} {
		sh := fmt.Sprintf("#!/bin/sh\nKUBELET=%q\n%s\n", kubelet, body)
		if err := os.WriteFile(filepath.Join(scripts, name), []byte(sh), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range drivers {
		t.Run(d.name, func(t *testing.T) {
			e := e.with(t)
			// A unix socket's path may not exceed 107 bytes; the emptyDir's
			// is longer, and connect follows a symlink with a short one.
			ctl := filepath.Join(scripts, d.name+"-controller.sock")
			if err := os.Symlink(e.controllerSocket(d), ctl); err != nil {
				t.Fatal(err)
			}
			nodeSock := filepath.Join(kubelet, "plugins", d.driver, "node", "csi.sock")
			params := filepath.Join(scripts, d.name+"-params.yaml")
			if err := os.WriteFile(params, []byte(d.driver+"/device-class: "+smallClass+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			args := []string{
				"-csi.endpoint", "unix://" + nodeSock, "-csi.controllerendpoint", "unix://" + ctl,
				"-csi.mountdir", "/sanity/mount", "-csi.stagingdir", "/sanity/stage",
				"-csi.createmountpathcmd", filepath.Join(scripts, "create"), "-csi.createstagingpathcmd", filepath.Join(scripts, "create"),
				"-csi.removemountpathcmd", filepath.Join(scripts, "remove"), "-csi.removestagingpathcmd", filepath.Join(scripts, "remove"),
				"-csi.checkpathcmd", filepath.Join(scripts, "check"),
				"-csi.testvolumesize", "67108864", "-csi.testvolumeexpandsize", "134217728",
				"-csi.testvolumeparameters", params, "-ginkgo.no-color",
			}
			if d.driver == "topolvm.io" {
				// LVM snapshots (thin or thick) need device-mapper, which
				// these machines' kernels lack: lvmd answers
				// FailedPrecondition (the scripted-runner tests in lvmd
				// cover them; btrfs snapshots run for real below).
				args = append(args, "-ginkgo.skip", strings.Join([]string{"Snapshot", "should create volume from an existing source snapshot",
					"should fail when the volume source snapshot is not found", "should create volume from an existing source volume"}, "|"))
			}
			// The small class, one test at a time: nothing else changes its
			// volumes while csi-sanity counts them.
			smallClassMu[d.driver].Lock()
			defer smallClassMu[d.driver].Unlock()
			// Some specs create volumes without topology and then publish
			// them on node1: the other nodes' small class is filled first,
			// so that the controller can only pick node1.
			for _, pvc := range e.fillSmallClass(d, node) {
				defer e.deletePVC(pvc, pvVolume(e.bound(pvc)))
			}
			out, err := run(e.ctx, nil, e.o.tool("csi-sanity"), args...)
			for _, l := range strings.Split(out, "\n") {
				if strings.Contains(l, "Ran ") || strings.Contains(l, "Passed") || strings.Contains(l, "[FAIL]") {
					t.Log(l)
				}
			}
			if err != nil {
				t.Fatalf("csi-sanity against the deployed %s: %v\n%s", d.driver, err, out)
			}
		})
	}
}

// controllerSocket is the host path of the CSI socket of a running
// controller replica of the driver: its emptyDir in the kubelet directory
// of the replica's node.
func (e *env) controllerSocket(d driverCase) string {
	e.t.Helper()
	ns := map[string]string{"topolvm.io": "topolvm-system", "topols.io": "topols-system"}[d.driver]
	pods, err := e.cs.CoreV1().Pods(ns).List(e.ctx, metav1.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, p := range pods.Items {
		if strings.Contains(p.Name, "controller") && podReady(&p) {
			return e.o.path(p.Spec.NodeName, "kubelet", "pods", string(p.UID), "volumes", "kubernetes.io~empty-dir", "socket-dir", "csi.sock")
		}
	}
	e.t.Fatalf("no ready controller pod in %s", ns)
	return ""
}

// fillSmallClass fills the driver's small device class on every node but
// keep with a PVC of exactly its free space, and returns those PVCs.
func (e *env) fillSmallClass(d driverCase, keep string) []string {
	e.t.Helper()
	var filled []string
	for _, node := range []string{"node1", "node2", "node3"} {
		free := e.nodeCapacity(d.driver, node, smallClass)
		if node == keep || free <= 0 {
			continue
		}
		name := d.name + "-fill-" + node
		e.createPVC(claim{name: name, sc: e.pinnedSmallClass(d, node), size: quantity(free)})
		e.bound(name)
		filled = append(filled, name)
	}
	return filled
}
