package btrfsd

import (
	"errors"
	"strings"
	"testing"

	"github.com/toposuite/toposuite/internal/storage"
)

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"pvc-1", "a", "A_b+c.d-e", strings.Repeat("x", 128)} {
		if err := ValidateName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", "../x", "a/b", "/abs", ".hidden", "-dash", "a\x00b", "a b", "ä", strings.Repeat("x", 129), "a\nb"} {
		if err := ValidateName(bad); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("%q: %v, want ErrInvalid", bad, err)
		}
	}
}
