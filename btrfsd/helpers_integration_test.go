//go:build integration

package btrfsd_test

import "google.golang.org/grpc"

func waitForReady() grpc.CallOption { return grpc.WaitForReady(true) }
