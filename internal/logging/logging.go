// Package logging builds the one structured logger every binary uses.
//
// Logs go through logr (the interface controller-runtime and client-go use)
// backed by the standard library's slog, so there is one log format per
// process and no second logging library. Keys are lowerCamelCase.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/go-logr/logr"
)

// Options select the log format and verbosity.
type Options struct {
	// Format is "json" (default, for machines) or "text" (for people).
	Format string
	// Level is "debug", "info" (default), "warn" or "error".
	Level string
}

// New returns a logger writing to w.
func New(w io.Writer, o Options) (logr.Logger, error) {
	var level slog.Level
	switch strings.ToLower(o.Level) {
	case "", "info":
		level = slog.LevelInfo
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		return logr.Discard(), fmt.Errorf("unknown log level %q (want debug, info, warn or error)", o.Level)
	}
	ho := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch strings.ToLower(o.Format) {
	case "", "json":
		h = slog.NewJSONHandler(w, ho)
	case "text":
		h = slog.NewTextHandler(w, ho)
	default:
		return logr.Discard(), fmt.Errorf("unknown log format %q (want json or text)", o.Format)
	}
	return logr.FromSlogHandler(h), nil
}
