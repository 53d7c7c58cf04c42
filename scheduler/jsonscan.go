package scheduler

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// scanner walks a JSON document without building it. kube-scheduler sends
// the full Node objects of every candidate node when nodeCacheCapable is
// false (tens of megabytes for thousands of nodes), and the extender needs
// only each node's name and capacity annotations: skipping the rest by hand
// is several times faster than decoding it, and the raw bytes of each node
// can be sent back as they came.
//
// Every value the scanner passes over is checked against the JSON grammar,
// so what it accepts and hands back is valid JSON.
type scanner struct {
	b   []byte
	pos int
}

// maxDepth bounds nesting like encoding/json does, so hostile input cannot
// exhaust the stack.
const maxDepth = 10000

var errEnd = errors.New("unexpected end of JSON input")

func (s *scanner) errorf(format string, a ...any) error {
	return fmt.Errorf("JSON at offset %d: %s", s.pos, fmt.Sprintf(format, a...))
}

func (s *scanner) ws() {
	for s.pos < len(s.b) {
		switch s.b[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// peek returns the next non-space byte without consuming it.
func (s *scanner) peek() (byte, error) {
	s.ws()
	if s.pos >= len(s.b) {
		return 0, errEnd
	}
	return s.b[s.pos], nil
}

func (s *scanner) expect(c byte) error {
	got, err := s.peek()
	if err != nil {
		return err
	}
	if got != c {
		return s.errorf("want %q, got %q", c, got)
	}
	s.pos++
	return nil
}

// null consumes a null literal if one is next.
func (s *scanner) null() (bool, error) {
	c, err := s.peek()
	if err != nil || c != 'n' {
		return false, err
	}
	return true, s.literal("null")
}

func (s *scanner) literal(lit string) error {
	if len(s.b)-s.pos < len(lit) || string(s.b[s.pos:s.pos+len(lit)]) != lit {
		return s.errorf("invalid literal")
	}
	s.pos += len(lit)
	return nil
}

// object calls field for each key of an object; field must consume the value.
func (s *scanner) object(field func(key string) error) error {
	if err := s.expect('{'); err != nil {
		return err
	}
	if c, err := s.peek(); err != nil {
		return err
	} else if c == '}' {
		s.pos++
		return nil
	}
	for {
		key, err := s.str()
		if err != nil {
			return err
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		if err := field(key); err != nil {
			return err
		}
		c, err := s.peek()
		if err != nil {
			return err
		}
		s.pos++
		switch c {
		case ',':
		case '}':
			return nil
		default:
			s.pos--
			return s.errorf("want ',' or '}' in object, got %q", c)
		}
	}
}

// array calls elem for each element; elem must consume the value.
func (s *scanner) array(elem func() error) error {
	if err := s.expect('['); err != nil {
		return err
	}
	if c, err := s.peek(); err != nil {
		return err
	} else if c == ']' {
		s.pos++
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		c, err := s.peek()
		if err != nil {
			return err
		}
		s.pos++
		switch c {
		case ',':
		case ']':
			return nil
		default:
			s.pos--
			return s.errorf("want ',' or ']' in array, got %q", c)
		}
	}
}

// str reads a string. Strings without escapes or invalid UTF-8 (nearly
// all) are sliced from the input; the others are decoded by encoding/json,
// so \u sequences, surrogate pairs and invalid bytes (U+FFFD) mean what the
// standard library says they mean.
func (s *scanner) str() (string, error) {
	if err := s.expect('"'); err != nil {
		return "", err
	}
	start := s.pos - 1
	escaped, err := s.skipString()
	if err != nil {
		return "", err
	}
	if raw := s.b[start+1 : s.pos-1]; !escaped && utf8.Valid(raw) {
		return string(raw), nil
	}
	var out string
	if err := json.Unmarshal(s.b[start:s.pos], &out); err != nil {
		return "", s.errorf("invalid string: %v", err)
	}
	return out, nil
}

func isHex(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// skip passes over one value of any kind, checking it.
func (s *scanner) skip(depth int) error {
	if depth > maxDepth {
		return s.errorf("exceeded max depth")
	}
	c, err := s.peek()
	if err != nil {
		return err
	}
	switch {
	case c == '{':
		return s.skipObject(depth)
	case c == '[':
		return s.array(func() error { return s.skip(depth + 1) })
	case c == '"':
		s.pos++
		_, err := s.skipString()
		return err
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		return s.number()
	}
	return s.errorf("invalid character %q looking for a value", c)
}

// skipObject passes over an object without building its keys.
func (s *scanner) skipObject(depth int) error {
	s.pos++ // the '{', seen by the caller
	if c, err := s.peek(); err != nil {
		return err
	} else if c == '}' {
		s.pos++
		return nil
	}
	for {
		if c, err := s.peek(); err != nil {
			return err
		} else if c != '"' {
			return s.errorf("want a string key, got %q", c)
		}
		s.pos++
		if _, err := s.skipString(); err != nil {
			return err
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		if err := s.skip(depth + 1); err != nil {
			return err
		}
		c, err := s.peek()
		if err != nil {
			return err
		}
		s.pos++
		switch c {
		case ',':
		case '}':
			return nil
		default:
			s.pos--
			return s.errorf("want ',' or '}' in object, got %q", c)
		}
	}
}

// skipString checks a string without building it, from just after its
// opening quote to past its closing one, and says whether it has escapes.
func (s *scanner) skipString() (escaped bool, err error) {
	for s.pos < len(s.b) {
		c := s.b[s.pos]
		if c >= 0x20 && c != '"' && c != '\\' { // the common byte, first
			s.pos++
			continue
		}
		switch {
		case c == '"':
			s.pos++
			return escaped, nil
		case c == '\\':
			if s.pos+1 >= len(s.b) {
				return false, errEnd
			}
			switch s.b[s.pos+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.pos += 2
			case 'u':
				if len(s.b)-s.pos < 6 || !isHex(s.b[s.pos+2:s.pos+6]) {
					return false, s.errorf("invalid \\u escape")
				}
				s.pos += 6
			default:
				return false, s.errorf("invalid escape")
			}
			escaped = true
		default: // a control character
			return false, s.errorf("control character in string")
		}
	}
	return false, errEnd
}

// number checks a number against the JSON grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() error {
	b, i := s.b, s.pos
	digits := func() int {
		n := 0
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case digits() == 0:
		s.pos = i
		return s.errorf("invalid number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			s.pos = i
			return s.errorf("invalid number")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			s.pos = i
			return s.errorf("invalid number")
		}
	}
	s.pos = i
	return nil
}

// end checks that only white space follows the document.
func (s *scanner) end() error {
	s.ws()
	if s.pos != len(s.b) {
		return s.errorf("invalid character %q after top-level value", s.b[s.pos])
	}
	return nil
}
