package scheduler

import (
	"encoding/json"
	"strings"
	"testing"
)

// scanValid says whether the scanner accepts doc as one JSON value.
func scanValid(doc []byte) bool {
	s := &scanner{b: doc}
	return s.skip(0) == nil && s.end() == nil
}

// TestSkipStringEveryOffset puts each kind of special byte at every offset
// of strings up to 40 bytes long, so that the eight-bytes-at-a-time search
// meets it at every position in a word and in the tail, and checks the
// scanner's verdict against encoding/json's.
func TestSkipStringEveryOffset(t *testing.T) {
	specials := []string{`"`, `\"`, `\\`, `\/`, `\n`, `\u0041`, `\u00`, `\x`, `\`, "\x00", "\x01", "\x1f", " ", "\x7f",
		"\x80", "é", "\xff", "\t"}
	for n := 0; n <= 40; n++ {
		for at := 0; at <= n; at++ {
			for _, sp := range specials {
				str := strings.Repeat("a", at) + sp + strings.Repeat("b", n-at)
				for _, doc := range []string{`"` + str + `"`, `["` + str + `",1]`, `{"k":"` + str + `"}`, `"` + str} {
					if got, want := scanValid([]byte(doc)), json.Valid([]byte(doc)); got != want {
						t.Fatalf("%q: scanner valid=%v, encoding/json %v", doc, got, want)
					}
				}
			}
		}
	}
}

// TestSkipStructures checks nesting, separators and literals.
func TestSkipStructures(t *testing.T) {
	for _, doc := range []string{`{}`, `[]`, `{"a":[]}`, `[{}]`, `{"a":{"b":[1,2,{"c":null}]},"d":true}`, ` [ 1 , 2 ] `,
		`{"a" : "b" , "c" : [ ] }`, `-0.5e+10`, `0`, `true`, `false`, `null`, `[[[[[]]]]]`,
		`{`, `[`, `{"a"}`, `{"a":}`, `{"a":1,}`, `[1,]`, `[1 2]`, `{"a":1 "b":2}`, `{1:2}`, `{"a":1]`, `[1}`, `01`, `1.`,
		`-`, `tru`, `nul`, `falsey`, `[true false]`, `"a" "b"`, `{"a":1}}`, `]`, `}`, `,`, ``, ` `, `[,1]`, `{,"a":1}`} {
		if got, want := scanValid([]byte(doc)), json.Valid([]byte(doc)); got != want {
			t.Errorf("%q: scanner valid=%v, encoding/json %v", doc, got, want)
		}
	}
	deep := strings.Repeat("[", maxDepth+5) + strings.Repeat("]", maxDepth+5)
	if scanValid([]byte(deep)) {
		t.Errorf("nesting beyond %d accepted", maxDepth)
	}
}

// FuzzSkip checks that the scanner accepts exactly the documents
// encoding/json calls valid (nesting within maxDepth): what it passes over
// goes back to kube-scheduler byte for byte.
func FuzzSkip(f *testing.F) {
	for _, seed := range []string{`{"a":[1,"b\u0041",true,null,{"c":-1.5e3}]}`, `"aaaaaaaaaaaaaaaa\"bbbbbbbb"`, "\"aaaaaaaaa\x01\"", `[{}, [], ""]`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		if strings.Count(doc, "[")+strings.Count(doc, "{") > maxDepth {
			return
		}
		if got, want := scanValid([]byte(doc)), json.Valid([]byte(doc)); got != want {
			t.Fatalf("%q: scanner valid=%v, encoding/json %v", doc, got, want)
		}
	})
}
