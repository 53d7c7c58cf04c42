// Package bench measures provisioning on the local cluster (e2e/cluster):
// for each driver, single PVCs one at a time, 100 PVCs at once with
// Immediate binding and with WaitForFirstConsumer and a pod each, their
// deletion, the CPU time and memory of every component, and where the time
// of a PVC goes (issue #5, "Benchmark"). The benchmark itself is in
// bench_test.go (build tag e2e, run by make bench-cluster); this package
// holds what it measures with, unit-tested without a cluster.
package bench
