package prepare

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/toposuite/toposuite/internal/exec"
)

// Filesystem is one btrfs filesystem as `btrfs filesystem show --raw`
// prints it.
type Filesystem struct {
	UUID string `json:"uuid"`
	// Label is empty when the filesystem has none.
	Label        string `json:"label,omitempty"`
	TotalDevices int    `json:"totalDevices"`
	BytesUsed    int64  `json:"bytesUsed"`
	// Devices are the devices btrfs found; fewer than TotalDevices when
	// some are missing.
	Devices []FilesystemDevice `json:"devices"`
	// Missing is btrfs's "*** Some devices missing".
	Missing bool `json:"missing,omitempty"`
}

// FilesystemDevice is one device of a filesystem.
type FilesystemDevice struct {
	ID   uint64 `json:"id"`
	Size int64  `json:"size"`
	Used int64  `json:"used"`
	Path string `json:"path"`
}

// Complete reports whether every device of the filesystem is present, so
// that it mounts without the degraded option.
func (f Filesystem) Complete() bool { return !f.Missing && len(f.Devices) == f.TotalDevices }

// describe names the filesystem for messages: its UUID and label.
func (f Filesystem) describe() string { return describeFS(f.UUID, f.Label) }

func describeFS(uuid, label string) string {
	if label == "" {
		return uuid
	}
	return fmt.Sprintf("%s (label %q)", uuid, label)
}

// ParseFilesystemShow parses `btrfs filesystem show --raw [ARG]`: blocks
// of a "Label:" line, a "Total devices" line, one "devid" line per device
// present and "*** Some devices missing" when some are not. Lines btrfs
// interleaves on stdout, such as "warning, device 2 is missing", are
// skipped. The text is all btrfs-progs 6.2 offers: its JSON output does
// not cover this command.
func ParseFilesystemShow(out []byte) ([]Filesystem, error) {
	var fss []Filesystem
	var cur *Filesystem
	sawTotal := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		fail := func(format string, args ...any) ([]Filesystem, error) {
			return nil, fmt.Errorf("parse btrfs filesystem show output, line %d: %s", n, fmt.Sprintf(format, args...))
		}
		switch {
		case strings.HasPrefix(line, "Label: "):
			fs, err := parseLabelLine(line)
			if err != nil {
				return fail("%v", err)
			}
			fss = append(fss, fs)
			cur, sawTotal = &fss[len(fss)-1], false
		case strings.HasPrefix(line, "Total devices "):
			if cur == nil || sawTotal {
				return fail("%q out of place", line)
			}
			var err error
			if cur.TotalDevices, cur.BytesUsed, err = parseTotalLine(line); err != nil {
				return fail("%v", err)
			}
			sawTotal = true
		case strings.HasPrefix(line, "devid "):
			if cur == nil || !sawTotal {
				return fail("%q out of place", line)
			}
			d, err := parseDevidLine(line)
			if err != nil {
				return fail("%v", err)
			}
			if len(cur.Devices) == cur.TotalDevices {
				return fail("more devices than the %d announced", cur.TotalDevices)
			}
			cur.Devices = append(cur.Devices, d)
		case line == "*** Some devices missing":
			if cur == nil {
				return fail("%q out of place", line)
			}
			cur.Missing = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("parse btrfs filesystem show output: %w", err)
	}
	for _, fs := range fss {
		if fs.TotalDevices == 0 {
			return nil, fmt.Errorf("parse btrfs filesystem show output: filesystem %s without a device count", fs.UUID)
		}
	}
	return fss, nil
}

// parseLabelLine reads "Label: 'name'  uuid: U" or "Label: none  uuid: U".
// The UUID is taken after the last "  uuid: ", since a label may hold
// anything, that text included.
func parseLabelLine(line string) (Filesystem, error) {
	rest := strings.TrimPrefix(line, "Label: ")
	i := strings.LastIndex(rest, "  uuid: ")
	if i < 0 {
		return Filesystem{}, fmt.Errorf("no uuid in %q", line)
	}
	label, uuid := rest[:i], strings.TrimSpace(rest[i+len("  uuid: "):])
	if !isUUID(uuid) {
		return Filesystem{}, fmt.Errorf("%q is not a UUID", uuid)
	}
	switch {
	case label == "none":
		label = ""
	case len(label) >= 2 && label[0] == '\'' && label[len(label)-1] == '\'':
		label = label[1 : len(label)-1]
	default:
		return Filesystem{}, fmt.Errorf("label %q is neither quoted nor none", label)
	}
	return Filesystem{UUID: uuid, Label: label}, nil
}

// parseTotalLine reads "Total devices N FS bytes used B" (B in bytes: --raw).
func parseTotalLine(line string) (int, int64, error) {
	f := strings.Fields(line)
	if len(f) != 7 || f[3] != "FS" || f[4] != "bytes" || f[5] != "used" {
		return 0, 0, fmt.Errorf("unexpected %q", line)
	}
	total, err := strconv.Atoi(f[2])
	if err != nil || total <= 0 {
		return 0, 0, fmt.Errorf("device count %q is not a positive number", f[2])
	}
	used, err := strconv.ParseInt(f[6], 10, 64)
	if err != nil || used < 0 {
		return 0, 0, fmt.Errorf("bytes used %q is not a byte count (was --raw given?)", f[6])
	}
	return total, used, nil
}

// parseDevidLine reads "devid N size S used U path P"; the path is the
// rest of the line.
func parseDevidLine(line string) (FilesystemDevice, error) {
	f := strings.Fields(line)
	if len(f) < 8 || f[2] != "size" || f[4] != "used" || f[6] != "path" {
		return FilesystemDevice{}, fmt.Errorf("unexpected %q", line)
	}
	var d FilesystemDevice
	var err error
	if d.ID, err = strconv.ParseUint(f[1], 10, 64); err != nil {
		return d, fmt.Errorf("devid %q is not a number", f[1])
	}
	if d.Size, err = strconv.ParseInt(f[3], 10, 64); err != nil || d.Size < 0 {
		return d, fmt.Errorf("size %q is not a byte count", f[3])
	}
	if d.Used, err = strconv.ParseInt(f[5], 10, 64); err != nil || d.Used < 0 {
		return d, fmt.Errorf("used %q is not a byte count", f[5])
	}
	if _, path, ok := strings.Cut(line, " path "); ok {
		d.Path = strings.TrimSpace(path)
	} else {
		d.Path = strings.Join(f[7:], " ")
	}
	return d, nil
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if r != '-' {
				return false
			}
		case !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F'):
			return false
		}
	}
	return true
}

// showFilesystems runs `btrfs filesystem show --raw ARGS`. With no
// argument it lists every btrfs filesystem on the node's devices (scanning
// them all); with --mounted, the mounted ones; with a mount point, that
// filesystem. btrfs exits 1 without a word when there is nothing to list.
func (c commands) showFilesystems(ctx context.Context, args ...string) ([]Filesystem, error) {
	res, err := c.run.Run(ctx, "btrfs", append([]string{"filesystem", "show", "--raw"}, args...)...)
	if err != nil {
		if exec.ExitCode(err) == 1 && len(bytes.TrimSpace(res.Stdout)) == 0 && len(bytes.TrimSpace(res.Stderr)) == 0 {
			return nil, nil
		}
		return nil, fmt.Errorf("list btrfs filesystems: %w", err)
	}
	return ParseFilesystemShow(res.Stdout)
}
