// Command topols-node: CSI node service of TopoLS (btrfs subvolumes with quotas).
package main

import (
	"os"

	"github.com/toposuite/toposuite/cmd/topols-node/app"
	"github.com/toposuite/toposuite/internal/cli"
)

func main() {
	os.Exit(cli.Execute(app.NewCommand()))
}
