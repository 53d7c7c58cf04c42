package app

import "testing"

// The features that need rights on every claim of the cluster are opt-in:
// the charts grant those rights only with the matching value on.
func TestClusterWideClaimFeaturesOffByDefault(t *testing.T) {
	f := NewCommand().Flags()
	for _, name := range []string{"fast-binding", "delete-claims-of-deleted-nodes"} {
		flag := f.Lookup(name)
		if flag == nil {
			t.Errorf("no flag --%s", name)
			continue
		}
		if flag.DefValue != "false" {
			t.Errorf("--%s defaults to %s, want false", name, flag.DefValue)
		}
	}
}
