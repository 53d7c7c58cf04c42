// Command topolvm-operator: operator that runs the suite from one TopolvmCluster resource.
package main

import (
	"os"

	"github.com/toposuite/toposuite/cmd/topolvm-operator/app"
	"github.com/toposuite/toposuite/internal/cli"
)

func main() {
	os.Exit(cli.Execute(app.NewCommand()))
}
