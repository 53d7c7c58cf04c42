// Command topolvm-node: CSI node service of TopoLVM (LVM logical volumes).
package main

import (
	"os"

	"github.com/toposuite/toposuite/cmd/topolvm-node/app"
	"github.com/toposuite/toposuite/internal/cli"
)

func main() {
	os.Exit(cli.Execute(app.NewCommand()))
}
