package lvm

import (
	"bytes"
	"errors"
	"regexp"

	"github.com/toposuite/toposuite/internal/exec"
	"github.com/toposuite/toposuite/internal/storage"
)

// classify turns a failed LVM command into a domain error by the text LVM
// prints on stderr (LC_ALL=C keeps it stable). The original error stays
// wrapped for messages and errors.As.
func classify(err error) error {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		if errors.Is(err, exec.ErrNotFound) {
			return storage.Errorf(storage.ErrUnavailable, "lvm is not installed: %w", err)
		}
		return err
	}
	msg := lastMessage(ee.Stderr)
	for _, p := range stderrPatterns {
		if p.re.Match(ee.Stderr) {
			if p.cause != nil {
				return storage.Errorf(p.kind, "%w (%s): %w", p.cause, msg, err)
			}
			return storage.Errorf(p.kind, "%s: %w", msg, err)
		}
	}
	return err
}

// ErrNoContiguousRoom: a contiguous allocation found no free extents right
// after the volume's last ones (the VG may have room elsewhere).
var ErrNoContiguousRoom = errors.New("the extents after the volume are not free")

var stderrPatterns = []struct {
	re   *regexp.Regexp
	kind error
	// cause, when set, is wrapped too, for callers that need the exact reason.
	cause error
}{
	{regexp.MustCompile(`(?m)Insufficient suitable contiguous allocatable extents`), storage.ErrPrecondition, ErrNoContiguousRoom},
	{regexp.MustCompile(`(?m)already exists in volume group`), storage.ErrExists, nil},
	{regexp.MustCompile(`(?mi)insufficient (free )?(space|extents)`), storage.ErrNoSpace, nil},
	// Free space exists, but not on enough distinct PVs (stripes, RAID images).
	{regexp.MustCompile(`(?m)Insufficient suitable allocatable extents|must not exceed number of physical volumes`), storage.ErrNoSpace, nil},
	{regexp.MustCompile(`(?m)Failed to find logical volume|Volume group "[^"]*" not found`), storage.ErrNotFound, nil},
	{regexp.MustCompile(`(?m)not larger than existing size|must be smaller than existing size`), storage.ErrPrecondition, nil},
	{regexp.MustCompile(`(?m)without using device-mapper kernel driver|Required device-mapper target\(s\) not detected`), storage.ErrPrecondition, nil},
}

// lastMessage returns the last stderr line that is not one of the warnings
// LVM prints on every run, which is where LVM says what went wrong.
func lastMessage(stderr []byte) string {
	lines := bytes.Split(bytes.TrimSpace(stderr), []byte("\n"))
	for i := len(lines) - 1; i >= 0; i-- {
		l := bytes.TrimSpace(lines[i])
		if len(l) == 0 || bytes.HasPrefix(l, []byte("WARNING:")) || bytes.HasPrefix(l, []byte("Run `")) {
			continue
		}
		return string(l)
	}
	return "lvm failed without a message"
}
