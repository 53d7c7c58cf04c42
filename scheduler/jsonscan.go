package scheduler

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
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

// skip passes over one value of any kind, checking it. It is one loop
// with an explicit stack rather than a recursive descent: most of a Node
// is skipped, and a call per token cost more than the checks themselves.
// depth is the nesting of the value, for the bound on depth.
func (s *scanner) skip(depth int) error {
	// open holds, per container entered, whether it is an object.
	var open [64]bool
	stack := open[:0]
	b, i := s.b, s.pos
	fail := func(at int, format string, a ...any) error {
		s.pos = at
		if at >= len(b) {
			return errEnd
		}
		return s.errorf(format, a...)
	}
	const (
		wantValue = iota
		wantKey
		afterValue
	)
	state := wantValue
	for {
		i = skipSpace(b, i)
		if i >= len(b) {
			s.pos = i
			return errEnd
		}
		c := b[i]
		switch state {
		case wantKey:
			if c != '"' {
				return fail(i, "want a string key, got %q", c)
			}
			s.pos = i + 1
			if _, err := s.skipString(); err != nil {
				return err
			}
			if i = skipSpace(b, s.pos); i >= len(b) || b[i] != ':' {
				return fail(i, "want ':' after an object key")
			}
			i++
			state = wantValue
		case afterValue:
			if len(stack) == 0 {
				s.pos = i
				return nil
			}
			inObject := stack[len(stack)-1]
			switch {
			case c == ',' && inObject:
				state = wantKey
			case c == ',':
				state = wantValue
			case c == '}' && inObject, c == ']' && !inObject:
				stack = stack[:len(stack)-1]
			case inObject:
				return fail(i, "want ',' or '}' in object, got %q", c)
			default:
				return fail(i, "want ',' or ']' in array, got %q", c)
			}
			i++
		default: // wantValue
			state = afterValue
			switch {
			case c == '{' || c == '[':
				if depth+len(stack) >= maxDepth {
					return fail(i, "nested deeper than %d levels", maxDepth)
				}
				i = skipSpace(b, i+1)
				if i < len(b) && (c == '{' && b[i] == '}' || c == '[' && b[i] == ']') {
					i++ // empty
					break
				}
				stack = append(stack, c == '{')
				if c == '{' {
					state = wantKey
				} else {
					state = wantValue
				}
			case c == '"':
				s.pos = i + 1
				if _, err := s.skipString(); err != nil {
					return err
				}
				i = s.pos
			case c == 't', c == 'f', c == 'n':
				lit := "null"
				if c == 't' {
					lit = "true"
				} else if c == 'f' {
					lit = "false"
				}
				if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
					return fail(i, "invalid literal")
				}
				i += len(lit)
			case c == '-' || '0' <= c && c <= '9':
				s.pos = i
				if err := s.number(); err != nil {
					return err
				}
				i = s.pos
			default:
				return fail(i, "invalid character %q looking for a value", c)
			}
		}
		if state == afterValue && len(stack) == 0 {
			s.pos = i
			return nil
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString checks a string without building it, from just after its
// opening quote to past its closing one, and says whether it has escapes.
//
// Nearly all of a Node's bytes are in strings (image names, digests,
// labels, annotations), so this is the scanner's hot loop: it finds the
// next quote, backslash or control character eight bytes at a time.
func (s *scanner) skipString() (escaped bool, err error) {
	b, i := s.b, s.pos
	for {
		if i+8 <= len(b) {
			m := specialBytes(binary.LittleEndian.Uint64(b[i:]))
			if m == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(m) >> 3
		} else {
			for i < len(b) && b[i] >= 0x20 && b[i] != '"' && b[i] != '\\' {
				i++
			}
			if i == len(b) {
				s.pos = i
				return false, errEnd
			}
		}
		switch c := b[i]; {
		case c == '"':
			s.pos = i + 1
			return escaped, nil
		case c == '\\':
			if i+1 >= len(b) {
				s.pos = i
				return false, errEnd
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if len(b)-i < 6 || !isHex(b[i+2:i+6]) {
					s.pos = i
					return false, s.errorf("invalid \\u escape")
				}
				i += 6
			default:
				s.pos = i
				return false, s.errorf("invalid escape")
			}
			escaped = true
		default: // a control character
			s.pos = i
			return false, s.errorf("control character in string")
		}
	}
}

// specialBytes marks, with its high bit, each byte of a little-endian word
// that may be a quote, a backslash or a control character (the classic
// bit tricks: a byte's high bit survives (x-0x01)&^x only where it was
// zero, (x-n)&^x where it was below n). A borrow can mark a byte above a
// real hit, never below one, so the lowest mark is always exact.
func specialBytes(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote := x ^ (ones * '"')
	backslash := x ^ (ones * '\\')
	return ((x-ones*0x20)&^x | (quote-ones)&^quote | (backslash-ones)&^backslash) & highs
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
