// Package operator is the end-to-end test of topolvm-operator on the local
// cluster (e2e/cluster): nodes without the suite, each with blank loop
// devices, the operator installed with its chart, and one TopolvmCluster
// that builds volume groups and btrfs pools from those devices, switches to
// the scheduler extender with the pod webhook (kube-scheduler reaches the
// operator's extender through the cluster's service proxy), grows a volume
// group, refuses a device that holds a filesystem, turns a driver off and
// is deleted. The tests are in files tagged e2e (make test-e2e).
package operator
