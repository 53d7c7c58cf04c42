// Package daemonapi holds the Go code generated from daemon.proto, the API
// that lvmd and btrfsd both serve. Regenerate it with `make generate`.
package daemonapi

//go:generate protoc --proto_path=. --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative daemon.proto
