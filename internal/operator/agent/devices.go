package agent

import (
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/toposuite/toposuite/internal/disk"
)

// rotational reads the kernel's queue/rotational flag of d; false when it
// cannot be read (virtual devices have none).
func (c *Collector) rotational(d disk.Device) bool {
	name := d.KernelName
	if name == "" {
		name = d.Path
	}
	b, err := os.ReadFile(c.host(filepath.Join("/sys/class/block", filepath.Base(name), "queue", "rotational")))
	return err == nil && strings.TrimSpace(string(b)) == "1"
}

// byID maps device paths to their /dev/disk/by-id names, which udev makes
// and which stay the same across reboots (unlike /dev/sdX). A host without
// udev has none.
func (c *Collector) byID() map[string][]string {
	dir := c.host("/dev/disk/by-id")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	out := map[string][]string{}
	for _, e := range entries {
		// udev's links are relative (../../sdb); read the link rather than
		// resolve it, which would leave the host's root (a magic link).
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join("/dev/disk/by-id", target)
		}
		dev := filepath.Clean(target)
		out[dev] = append(out[dev], filepath.Join("/dev/disk/by-id", e.Name()))
	}
	for _, ids := range out {
		sort.Strings(ids)
	}
	return out
}
