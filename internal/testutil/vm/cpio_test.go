package vm

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/toposuite/toposuite/internal/exec"
)

// The archive must be one GNU cpio reads back as written: same tree, same
// content, same modes (GNU cpio is what packs the base initramfs, and it
// reads newc exactly as the kernel does).
func TestCPIOReadBackByGNUCpio(t *testing.T) {
	if _, err := lookPath("cpio"); err != nil {
		t.Skip("cpio is not installed")
	}
	var buf bytes.Buffer
	w := newCPIOWriter(&buf)
	files := map[string]string{"a/b/odd": "x", "a/b/four": "1234", "a/empty": "", "top": strings.Repeat("z", 4099)}
	for _, d := range []string{"a", "a/b"} {
		if err := w.Dir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"a/b/odd", "a/b/four", "a/empty", "top"} {
		if err := w.File("/"+name, 0o750, int64(len(files[name])), strings.NewReader(files[name])); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if buf.Len()%4 != 0 {
		t.Errorf("archive is %d bytes, not a multiple of 4", buf.Len())
	}

	dir := t.TempDir()
	archive := filepath.Join(dir, "x.cpio")
	if err := os.WriteFile(archive, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.NewLocal(exec.Options{}).Run(context.Background(), "sh", "-c",
		`cd "$1" && cpio -i -d --quiet < "$2"`, "sh", out, archive); err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		p := filepath.Join(out, name)
		got, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if string(got) != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
		if st, _ := os.Stat(p); st.Mode().Perm() != 0o750 {
			t.Errorf("%s mode = %v, want 0750", name, st.Mode().Perm())
		}
	}
}

func TestCPIOShortReaderFails(t *testing.T) {
	w := newCPIOWriter(&bytes.Buffer{})
	if err := w.File("f", 0o644, 10, strings.NewReader("short")); err == nil {
		t.Error("a file shorter than its size must fail")
	}
}
