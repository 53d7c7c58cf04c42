//go:build tools

// Package tools pins the etcd binaries built by ../build.sh. The build tag
// keeps this file out of every build; `go mod tidy` still sees the imports
// and keeps the requires and go.sum entries.
package tools

import (
	_ "go.etcd.io/etcd/etcdctl/v3"
	_ "go.etcd.io/etcd/server/v3"
)
