// Package scheduler: kube-scheduler extender (filter and prioritize) for both drivers. It arrives with issue #6.
package scheduler
