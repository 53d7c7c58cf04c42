// Package charts embeds the suite's Helm charts, so that topolvm-operator
// renders the very files users install with helm: the charts stay the
// single source of every manifest.
package charts

import "embed"

// FS holds the driver and scheduler charts, each under its directory name.
// The all: prefix keeps _helpers.tpl and the other _-prefixed templates.
//
//go:embed all:topolvm all:topols all:topolvm-scheduler
var FS embed.FS
