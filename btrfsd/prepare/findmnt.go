package prepare

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/toposuite/toposuite/internal/exec"
)

// Mount is what is mounted at a path, as findmnt reports it.
type Mount struct {
	Target string `json:"target"`
	// Source is the device (for btrfs: one of its devices), without the
	// [/subvolume] suffix findmnt would add (--nofsroot).
	Source  string `json:"source"`
	FSType  string `json:"fstype"`
	Options string `json:"options"`
}

type findmntOutput struct {
	Filesystems []struct {
		Target  *string `json:"target"`
		Source  *string `json:"source"`
		FSType  *string `json:"fstype"`
		Options *string `json:"options"`
	} `json:"filesystems"`
}

// ParseFindmnt parses `findmnt --json --nofsroot --output
// TARGET,SOURCE,FSTYPE,OPTIONS --mountpoint PATH` and returns the mount
// that is visible at the path: findmnt lists mounts stacked on one path
// bottom first, so that is the last one.
func ParseFindmnt(out []byte) (*Mount, error) {
	var o findmntOutput
	if err := json.Unmarshal(out, &o); err != nil {
		return nil, fmt.Errorf("parse findmnt output: %w", err)
	}
	if len(o.Filesystems) == 0 {
		return nil, fmt.Errorf("parse findmnt output: no filesystem listed")
	}
	f := o.Filesystems[len(o.Filesystems)-1]
	m := &Mount{Target: deref(f.Target), Source: deref(f.Source), FSType: deref(f.FSType), Options: deref(f.Options)}
	if m.Target == "" || m.FSType == "" {
		return nil, fmt.Errorf("parse findmnt output: mount without a target or type")
	}
	return m, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// findMount returns what is mounted at path, or nil when path is not a
// mount point (findmnt then exits 1 and prints nothing). A path on a
// filesystem mounted higher up is not a mount point: prepare mounts the
// pool's filesystem over it.
func (c commands) findMount(ctx context.Context, path string) (*Mount, error) {
	res, err := c.run.Run(ctx, "findmnt", "--json", "--nofsroot", "--output", "TARGET,SOURCE,FSTYPE,OPTIONS", "--mountpoint", path)
	if err != nil {
		if exec.ExitCode(err) == 1 && len(bytes.TrimSpace(res.Stdout)) == 0 {
			return nil, nil
		}
		return nil, fmt.Errorf("find what is mounted at %s: %w", path, err)
	}
	return ParseFindmnt(res.Stdout)
}
