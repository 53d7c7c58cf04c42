package bench

import (
	"testing"
	"time"
)

func TestSummarizeNearestRank(t *testing.T) {
	var d []time.Duration
	for i := 10; i >= 1; i-- { // unsorted on purpose
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	got := Summarize(d)
	want := Summary{N: 10, P50: 5 * time.Millisecond, P90: 9 * time.Millisecond, Max: 10 * time.Millisecond}
	if got != want {
		t.Errorf("Summarize: %+v, want %+v", got, want)
	}
	if d[0] != 10*time.Millisecond {
		t.Error("Summarize sorted its argument")
	}
	if one := Summarize([]time.Duration{time.Second}); one.P50 != time.Second || one.P90 != time.Second {
		t.Errorf("one value: %+v", one)
	}
	if (Summarize(nil) != Summary{}) {
		t.Error("no values: not zero")
	}
}
