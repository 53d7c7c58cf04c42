// Command lvmd is TopoLVM's storage daemon: the only program that runs LVM.
package main

import (
	"os"

	"github.com/toposuite/toposuite/cmd/lvmd/app"
	"github.com/toposuite/toposuite/internal/cli"
)

func main() {
	os.Exit(cli.Execute(app.NewCommand()))
}
