package cli

import (
	"encoding/json"
	"io"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
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

// FinishReport ends such a command: the report (when there is one) is
// printed as JSON and logged, and the exit status says what went wrong: a
// failed command (err) first, then a refusal.
func FinishReport[R Report](cmd *cobra.Command, log logr.Logger, rep R, ok bool, err error) error {
	if ok {
		if werr := WriteJSON(cmd.OutOrStdout(), rep); werr != nil {
			return werr
		}
		rep.Log(log)
	}
	if err != nil {
		return err
	}
	if ok {
		return rep.Err()
	}
	return nil
}
