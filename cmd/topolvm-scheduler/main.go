// Command topolvm-scheduler: kube-scheduler extender that places pods where the capacity is.
package main

import (
	"os"

	"github.com/toposuite/toposuite/cmd/topolvm-scheduler/app"
	"github.com/toposuite/toposuite/internal/cli"
)

func main() {
	os.Exit(cli.Execute(app.NewCommand()))
}
