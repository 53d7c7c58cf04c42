package cluster

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
)

// Spare disks are blank loop devices a node has besides the ones its init
// makes its volume group and btrfs pool of (Options.SpareDisks of them,
// each Options.DiskSize, sparse). Nothing is made on them, and the node's
// LVM configuration accepts them: they are the node's unused disks, for
// tests of what builds storage from disks (the operator's prepare).

// spareDiskPrefix starts the file name of every spare disk of a node.
const spareDiskPrefix = "spare-"

// spareDisks attaches the node's spare disks under dir/disks.
func (c *Cluster) spareDisks(ctx context.Context, dir string) ([]string, error) {
	var devs []string
	for i := range c.o.SpareDisks {
		d, err := c.loop(ctx, filepath.Join(dir, "disks", fmt.Sprintf("%s%d.img", spareDiskPrefix, i)))
		if err != nil {
			return nil, err
		}
		devs = append(devs, d)
	}
	return devs, nil
}

// SpareDisks returns node's spare disks (loop devices), in order.
func (c *Cluster) SpareDisks(node string) []string {
	prefix := c.o.path(node, "disks", spareDiskPrefix)
	c.st.mu.Lock()
	defer c.st.mu.Unlock()
	var loops []Loop
	for _, l := range c.st.Loops {
		if strings.HasPrefix(l.File, prefix) {
			loops = append(loops, l)
		}
	}
	sort.Slice(loops, func(i, j int) bool { return loops[i].File < loops[j].File })
	var out []string
	for _, l := range loops {
		out = append(out, l.Dev)
	}
	return out
}

// NodeNames returns the nodes' names, sorted.
func (c *Cluster) NodeNames() []string {
	var out []string
	for n := range c.NodeInits() {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// ImageTag is the tag of the suite's images in every node (make images;
// imported, never pulled: use imagePullPolicy Never).
func (c *Cluster) ImageTag() string { return c.images.tag }

// Repo is the repository root the cluster's charts come from.
func (c *Cluster) Repo() string { return c.o.Repo }

// Helm runs helm against the cluster (with its caches in the lab), for
// tests that install a chart themselves.
func (c *Cluster) Helm(ctx context.Context, args ...string) (string, error) {
	return c.helm(ctx, args...)
}
