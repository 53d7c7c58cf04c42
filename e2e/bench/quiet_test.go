package bench

import "testing"

func TestCPUTimes(t *testing.T) {
	idle, total, err := cpuTimes()
	if err != nil {
		t.Fatal(err)
	}
	if total == 0 || idle > total {
		t.Errorf("idle %d of %d jiffies", idle, total)
	}
}
