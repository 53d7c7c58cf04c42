//go:build tools

// Package tools pins the Kubernetes binaries built by ../build.sh. The build
// tag keeps this file out of every build; `go mod tidy` still sees the
// imports and keeps the requires and go.sum entries.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
