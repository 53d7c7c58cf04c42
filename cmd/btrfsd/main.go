// Command btrfsd is TopoLS's storage daemon: the lvmd API over btrfs
// subvolumes limited by quota groups.
package main

import (
	"os"

	"github.com/toposuite/toposuite/cmd/btrfsd/app"
	"github.com/toposuite/toposuite/internal/cli"
)

func main() {
	os.Exit(cli.Execute(app.NewCommand()))
}
