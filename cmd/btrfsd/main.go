// Command btrfsd: btrfs storage daemon of TopoLS (the lvmd API over btrfs subvolumes).
package main

import (
	"os"

	"github.com/toposuite/toposuite/cmd/btrfsd/app"
	"github.com/toposuite/toposuite/internal/cli"
)

func main() {
	os.Exit(cli.Execute(app.NewCommand()))
}
