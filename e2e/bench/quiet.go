package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// The machine is quiet when this share of its CPU time was idle over
// quietSamples consecutive seconds. A scenario starts only then (or after
// quietMax), so that it does not pay for the one before: a
// WaitForFirstConsumer scenario leaves a hundred containers and mounts to
// tear down after its deletion is measured.
const (
	quietIdle    = 0.75
	quietSamples = 3
	quietMax     = 90 * time.Second
)

// cpuTimes returns the machine's idle (idle + iowait) and total jiffies.
func cpuTimes() (idle, total uint64, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("/proc/stat starts with %q", line)
	}
	for i, s := range f[1:] {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: %q: %w", line, err)
		}
		total += v
		if i == 3 || i == 4 {
			idle += v
		}
	}
	return idle, total, nil
}

// WaitQuiet waits until the machine is quiet and says how long that took
// and how idle the last second was.
func WaitQuiet(ctx context.Context) string {
	start := time.Now()
	idle0, total0, err := cpuTimes()
	if err != nil {
		return err.Error()
	}
	quiet, share := 0, 0.0
	for quiet < quietSamples && time.Since(start) < quietMax {
		select {
		case <-ctx.Done():
			return ctx.Err().Error()
		case <-time.After(time.Second):
		}
		idle, total, err := cpuTimes()
		if err != nil {
			return err.Error()
		}
		share = float64(idle-idle0) / float64(max(total-total0, 1))
		idle0, total0 = idle, total
		if share >= quietIdle {
			quiet++
		} else {
			quiet = 0
		}
	}
	return fmt.Sprintf("waited %.0f s for the machine to be quiet, %.0f%% idle", time.Since(start).Seconds(), 100*share)
}
