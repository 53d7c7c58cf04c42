// Command topolvm-controller: CSI controller service for topolvm.io and topols.io.
package main

import (
	"os"

	"github.com/toposuite/toposuite/cmd/topolvm-controller/app"
	"github.com/toposuite/toposuite/internal/cli"
)

func main() {
	os.Exit(cli.Execute(app.NewCommand()))
}
