package cluster

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// setupBridge makes the host-only bridge the nodes hang off, with the
// host's address (where the API server listens) and a route to each
// node's pod subnet (the API server calls webhooks at pod IPs). Everything
// goes away with the bridge.
func (c *Cluster) setupBridge(ctx context.Context) error {
	out, err := run(ctx, nil, "ip", "-o", "addr", "show")
	if err != nil {
		return err
	}
	if strings.Contains(out, " "+nodeNetPrefix) {
		return fmt.Errorf("the cluster's network %s0/%d is in use on this machine: another local cluster is up (make demo-down, or toposuite-cluster down --dir ITS_DIR)", nodeNetPrefix, netMaskBits)
	}
	if err := c.st.update(func(s *State) { s.Bridge = bridgeName }); err != nil {
		return err
	}
	for _, args := range [][]string{
		{"link", "add", bridgeName, "type", "bridge"},
		{"addr", "add", hostIP + "/" + strconv.Itoa(netMaskBits), "dev", bridgeName},
		{"link", "set", bridgeName, "up"},
	} {
		if _, err := run(ctx, nil, "ip", args...); err != nil {
			return err
		}
	}
	return nil
}

// plugNode connects node i's network namespace (that of pid) to the bridge:
// a veth pair whose node end is the node's eth0.
func (c *Cluster) plugNode(ctx context.Context, i, pid int) error {
	host := fmt.Sprintf("tps-%s", nodeName(i))
	for _, args := range [][]string{
		{"link", "add", host, "type", "veth", "peer", "name", "eth0", "netns", strconv.Itoa(pid)},
		{"link", "set", host, "master", bridgeName, "up"},
		{"route", "add", podCIDR(i), "via", nodeIP(i), "dev", bridgeName},
	} {
		if _, err := run(ctx, nil, "ip", args...); err != nil {
			return err
		}
	}
	return nil
}
