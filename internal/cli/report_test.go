package cli

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
)

type fakeReport struct {
	Refused []string `json:"refused"`
}

func (fakeReport) Log(logr.Logger) {}

func (r fakeReport) Err() error {
	if len(r.Refused) > 0 {
		return errors.New("refused")
	}
	return nil
}

func TestFinishReport(t *testing.T) {
	failed := errors.New("vgextend failed")
	for name, tc := range map[string]struct {
		rep     fakeReport
		ok      bool
		err     error
		o       ReportOptions
		wantErr error
	}{
		"clean":                            {ok: true},
		"refusal fails":                    {rep: fakeReport{Refused: []string{"/dev/sdb"}}, ok: true, wantErr: errors.New("refused")},
		"failure fails":                    {ok: true, err: failed, wantErr: failed},
		"keep going over a refusal":        {rep: fakeReport{Refused: []string{"/dev/sdb"}}, ok: true, o: ReportOptions{KeepGoing: true}},
		"keep going over a failure":        {ok: true, err: failed, o: ReportOptions{KeepGoing: true}},
		"no report, nothing to go on with": {err: failed, o: ReportOptions{KeepGoing: true}, wantErr: failed},
	} {
		t.Run(name, func(t *testing.T) {
			cmd := &cobra.Command{}
			var out bytes.Buffer
			cmd.SetOut(&out)
			tc.o.File = filepath.Join(t.TempDir(), "dir", "report.json")
			err := FinishReport(cmd, logr.Discard(), tc.rep, tc.ok, tc.err, tc.o)
			if (err == nil) != (tc.wantErr == nil) || (err != nil && err.Error() != tc.wantErr.Error()) {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
			b, rerr := os.ReadFile(tc.o.File)
			switch {
			case !tc.ok && rerr == nil:
				t.Errorf("report file written without a report: %s", b)
			case tc.ok && (rerr != nil || !bytes.Equal(b, out.Bytes())):
				t.Errorf("report file = %q (%v), want what stdout got: %q", b, rerr, out.String())
			}
			// Only the report is left in the directory: no temporary file.
			if entries, _ := os.ReadDir(filepath.Dir(tc.o.File)); tc.ok && len(entries) != 1 {
				t.Errorf("directory holds %d entries, want the report only", len(entries))
			}
		})
	}
}
