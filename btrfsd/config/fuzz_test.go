package config

import (
	"os"
	"path/filepath"
	"testing"
)

// A config file of any content is parsed and validated without a panic.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.yaml")
	for _, s := range seeds {
		b, _ := os.ReadFile(s)
		f.Add(b)
	}
	f.Add([]byte("pools: [{name: x, path: /p, budget: 1e30}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		_ = c.Validate()
	})
}
