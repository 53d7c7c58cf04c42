package bench

import (
	"os"
	"testing"
)

func TestParseStat(t *testing.T) {
	// A line as the kernel writes it, with a command name holding ") (".
	line := "4242 (a) (b c) S 17 4242 4242 0 -1 4194560 2000 0 0 0 150 50 7 3 20 0 12 0 987654 1468006400 8192 " +
		"18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0"
	got, err := parseStat(line)
	if err != nil {
		t.Fatal(err)
	}
	want := procStat{PPID: 17, CPUTicks: 150 + 50 + 7 + 3, Start: 987654, RSSPages: 8192}
	if got != want {
		t.Errorf("parseStat: %+v, want %+v", got, want)
	}
	if _, err := parseStat("4242 (x) S 1"); err == nil {
		t.Error("a short line was accepted")
	}
	self, err := readStat(os.Getpid())
	if err != nil || self.Start == 0 || self.RSSPages == 0 || self.PPID == 0 {
		t.Errorf("this process: %+v, %v", self, err)
	}
}

func TestPodOfCgroup(t *testing.T) {
	for _, c := range []struct{ cgroup, uid, id string }{
		{"12:cpu,cpuacct:/toposuite-node1/kubepods/besteffort/pod3c1e4d5a-1b2c-4d5e-8f90-123456789abc/4f1e2d\n" +
			"0::/toposuite-node1/kubepods/besteffort/pod3c1e4d5a-1b2c-4d5e-8f90-123456789abc/4f1e2d\n",
			"3c1e4d5a-1b2c-4d5e-8f90-123456789abc", "4f1e2d"},
		{"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod3c1e4d5a_1b2c.slice/cri-containerd-abc.scope\n",
			"3c1e4d5a-1b2c", "abc"},
		{"0::/toposuite-node1/kubepods/podabc\n", "abc", ""},
		{"0::/user.slice/session-1.scope\n", "", ""},
	} {
		uid, id := podOfCgroup(c.cgroup)
		if uid != c.uid || id != c.id {
			t.Errorf("%q: pod %q container %q, want %q %q", c.cgroup, uid, id, c.uid, c.id)
		}
	}
}
