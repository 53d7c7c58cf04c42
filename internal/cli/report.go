package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// WriteJSON prints v as indented JSON: what commands that report (discover,
// prepare) print on stdout for machines, while their logs go to stderr.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// Report is the outcome of a command that acts on several objects and
// reports on each (prepare).
type Report interface {
	// Log writes the outcome as log lines.
	Log(logr.Logger)
	// Err is the error when anything was refused.
	Err() error
}

// ReportOptions are a reporting command's flags that say where else the
// report goes and what the exit status means.
type ReportOptions struct {
	// File, when set, receives the report as JSON too, replaced atomically,
	// so that a reader on the node (the operator's agent) never sees half
	// of one.
	File string
	// KeepGoing makes refusals and failed commands end the command with
	// status 0 once the report is out. An init container runs prepare this
	// way: the daemon it precedes must start and serve the volumes that
	// exist even when a newly declared device was refused; the report says
	// what was not done.
	KeepGoing bool
}

// AddFlags registers --report-file and --keep-going.
func (o *ReportOptions) AddFlags(f *pflag.FlagSet) {
	f.StringVar(&o.File, "report-file", "", "also write the JSON report to this file (replaced atomically)")
	f.BoolVar(&o.KeepGoing, "keep-going", false, "exit 0 when devices were refused or commands failed, once the report is written (for an init container before the daemon)")
}

// FinishReport ends such a command: the report (when there is one) is
// printed as JSON, written to o.File and logged, and the exit status says
// what went wrong: a failed command (err) first, then a refusal; with
// o.KeepGoing, neither once the report is out.
func FinishReport[R Report](cmd *cobra.Command, log logr.Logger, rep R, ok bool, err error, o ReportOptions) error {
	if ok {
		if werr := WriteJSON(cmd.OutOrStdout(), rep); werr != nil {
			return werr
		}
		if o.File != "" {
			if werr := writeJSONFile(o.File, rep); werr != nil {
				return werr
			}
		}
		rep.Log(log)
	}
	if err == nil && ok {
		err = rep.Err()
	}
	if err != nil && ok && o.KeepGoing {
		log.Error(err, "not everything declared was done; going on as asked (--keep-going), the report says what is missing")
		return nil
	}
	return err
}

// writeJSONFile replaces path with v as JSON: written to a temporary file in
// the same directory, then renamed over it.
func writeJSONFile(path string, v any) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("report file: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("report file: %w", err)
	}
	werr := WriteJSON(f, v)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(f.Name(), path)
	}
	if werr != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("report file %s: %w", path, werr)
	}
	return nil
}
