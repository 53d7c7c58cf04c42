package scheduler

import (
	"testing"

	"github.com/toposuite/toposuite/csi"
)

// A pod's capacity annotations are decimal bytes (the pod webhook's, or
// whoever wrote them): what does not fit int64, or is negative, is an
// error and never a wrapped number.
func TestPodNeedsRefusesWhatDoesNotFit(t *testing.T) {
	drivers := []csi.Driver{csi.LVMDriver("topolvm.io")}
	for _, v := range []string{"9223372036854775808", "18446744073710600192", "-1", "1e30", "1Gi", "4194304.5"} {
		pod := capPod("u", map[string]string{"capacity.topolvm.io/00default": v})
		if got, err := podNeeds(pod, drivers); err == nil {
			t.Errorf("annotation %q: %v, want an error", v, got)
		}
	}
	pod := capPod("u", map[string]string{"capacity.topolvm.io/00default": "9223372036854775807", "capacity.topolvm.io/ssd": "0"})
	got, err := podNeeds(pod, drivers)
	if want := (need{classKey{Driver: "topolvm.io"}, 1<<63 - 1}); err != nil || len(got) != 1 || got[0] != want {
		t.Errorf("largest int64: %v, %v; want %v", got, err, want)
	}
}
