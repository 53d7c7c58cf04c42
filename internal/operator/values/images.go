package values

import (
	"fmt"
	"strings"
)

// imageValues parses the spec's image overrides (name -> reference) into
// the charts' image blocks: {repository, tag} or {repository, digest}.
func imageValues(overrides map[string]string) (map[string]map[string]any, error) {
	out := map[string]map[string]any{}
	for name, ref := range overrides {
		repo, tag, digest, err := splitReference(ref)
		if err != nil {
			return nil, fmt.Errorf("images.overrides[%s]: %w", name, err)
		}
		img := map[string]any{"repository": repo}
		if digest != "" {
			img["digest"] = digest
		} else {
			img["tag"] = tag
		}
		out[name] = img
	}
	return out, nil
}

// splitReference splits repository[:tag][@digest]. A colon after the last
// slash starts the tag (one before it is a registry's port).
func splitReference(ref string) (repo, tag, digest string, err error) {
	if ref == "" || strings.ContainsAny(ref, " \t\n") {
		return "", "", "", fmt.Errorf("bad image reference %q", ref)
	}
	repo = ref
	if i := strings.Index(repo, "@"); i >= 0 {
		repo, digest = repo[:i], repo[i+1:]
		if !strings.HasPrefix(digest, "sha256:") {
			return "", "", "", fmt.Errorf("bad digest in image reference %q", ref)
		}
	}
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo, tag = repo[:i], repo[i+1:]
	}
	if repo == "" || (digest == "" && tag == "") {
		return "", "", "", fmt.Errorf("image reference %q needs a tag or a digest", ref)
	}
	return repo, tag, digest, nil
}

// setImage sets the image block at path when the spec overrides name.
func setImage(v map[string]any, images map[string]map[string]any, name string, path ...string) {
	if img, ok := images[name]; ok {
		cp := make(map[string]any, len(img))
		for k, x := range img {
			cp[k] = x
		}
		set(v, cp, path...)
	}
}
