package values

import "testing"

func TestSplitReference(t *testing.T) {
	for _, c := range []struct{ ref, repo, tag, digest string }{
		{"toposuite/lvmd:v1", "toposuite/lvmd", "v1", ""},
		{"registry:5000/toposuite/lvmd:v1", "registry:5000/toposuite/lvmd", "v1", ""},
		{"r.io/x@sha256:abc", "r.io/x", "", "sha256:abc"},
	} {
		repo, tag, digest, err := splitReference(c.ref)
		if err != nil || repo != c.repo || tag != c.tag || digest != c.digest {
			t.Errorf("%s: got %q %q %q %v", c.ref, repo, tag, digest, err)
		}
	}
	for _, bad := range []string{"", "registry:5000/x", "x@md5:1", "a b:1"} {
		if _, _, _, err := splitReference(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
