package csi

import (
	"testing"

	"github.com/toposuite/toposuite/internal/storage"
)

// Any inline size attribute is either refused or a size from 1 byte to the
// largest volume: never a wrapped or negative number.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"1Gi", "0", "-1", "18446744073709551617Mi", "1e30", "9223372036854775807k", "0.000000000000000001E39", "4Ei", "1.5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseSize(s)
		if err != nil {
			return
		}
		if n < 1 || n > storage.MaxVolumeBytes {
			t.Errorf("parseSize(%q) = %d, outside 1..%d", s, n, storage.MaxVolumeBytes)
		}
	})
}
