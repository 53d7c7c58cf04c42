// Package scheduler is topolvm-scheduler: a kube-scheduler extender whose
// filter verb turns down nodes without enough free space for the pod's
// volumes and whose prioritize verb scores the rest, for both drivers and
// every device class. Free space is the nodes' published capacity minus
// what the Ledger and the in-flight pods have promised (see ledger.go and
// inflight.go); docs/scheduler.md is the user's view.
package scheduler
