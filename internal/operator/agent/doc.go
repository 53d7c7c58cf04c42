// Package agent is the operator's node agent: a DaemonSet pod on every node
// that finds out what the node has and writes it as the node's report
// (package report) for the operator to fold into the TopolvmCluster status.
//
// Per pass it
//   - discovers the block devices free to use (internal/disk, the rules of
//     `lvmd discover`),
//   - reads the node's LVM volume groups with their size, free space and
//     physical volumes,
//   - reads what the last `lvmd prepare` and `btrfsd prepare` did, from the
//     reports they leave on the host (--report-file, written by the charts'
//     init containers), for the devices they refused and why, and the btrfs
//     pools with their paths,
//   - measures those pools (statfs through the host's root).
//
// Commands run in the host's namespaces through the same nsenter prefix as
// lvmd's, and files are read under the host's root (/proc/1/root with
// hostPID), so the agent sees what lvmd and btrfsd see. It changes nothing
// on the node. It lives in the operator's binary rather than in lvmd so
// that lvmd keeps no Kubernetes client and no API permissions.
package agent
