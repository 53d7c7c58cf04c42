// Package version reports the build identity of every TopoSuite binary.
//
// The values are stamped at link time by the Makefile (-X flags); a plain
// `go build` leaves the defaults, which say so.
package version

import (
	"fmt"
	"runtime"
)

// These are written only by the linker (-ldflags -X); nothing assigns them at run time.
var (
	version = "devel"
	commit  = "unknown"
)

// Info is the build identity of a binary.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Get returns the identity stamped into this binary.
func Get() Info {
	return Info{
		Version:   version,
		Commit:    commit,
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
	}
}

// String renders the identity on one line, as `--version` prints it.
func (i Info) String() string {
	return fmt.Sprintf("version %s, commit %s, %s, %s", i.Version, i.Commit, i.GoVersion, i.Platform)
}
