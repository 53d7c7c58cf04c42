//go:build tools

// Package tools pins the csi-snapshotter binaries built by ../build.sh. The build tag
// keeps this file out of every build; `go mod tidy` still sees the imports.
package tools

import (
	_ "github.com/kubernetes-csi/external-snapshotter/v8/cmd/csi-snapshotter"
	_ "github.com/kubernetes-csi/external-snapshotter/v8/cmd/snapshot-controller"
)
