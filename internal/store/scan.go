package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
)

// reader is a small strict JSON reader for the keyring document. It exists
// for speed: encoding/json needs three passes and reflection per member,
// which made loading a 1,000-key keyring cost over 30 ms; this reads it in
// one validating pass with no reflection. Key material is kept as raw bytes
// (jwk.Parse reads it strictly when a key is used).
type reader struct {
	data []byte
	pos  int
}

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 64

var errTruncated = errors.New("truncated: the JSON ends early")

func (r *reader) errorf(format string, args ...any) error {
	return fmt.Errorf("invalid JSON at offset %d: %s", r.pos, fmt.Sprintf(format, args...))
}

func (r *reader) ws() {
	for r.pos < len(r.data) {
		switch r.data[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return
		}
	}
}

// next returns the next non-space byte without consuming it.
func (r *reader) next() (byte, error) {
	r.ws()
	if r.pos >= len(r.data) {
		return 0, errTruncated
	}
	return r.data[r.pos], nil
}

func (r *reader) expect(c byte) error {
	got, err := r.next()
	if err != nil {
		return err
	}
	if got != c {
		return r.errorf("expected %q, found %q", c, got)
	}
	r.pos++
	return nil
}

// object reads an object, calling member for each name with the reader at
// the value, which member must consume. Duplicate names are errors.
func (r *reader) object(member func(name string) error) error {
	if err := r.expect('{'); err != nil {
		return err
	}
	var buf [12]string
	seen := buf[:0]
	if c, err := r.next(); err != nil {
		return err
	} else if c == '}' {
		r.pos++
		return nil
	}
	for {
		if _, err := r.next(); err != nil {
			return err
		}
		name, err := r.str()
		if err != nil {
			return err
		}
		if slices.Contains(seen, name) {
			return fmt.Errorf("duplicate member name %q", name)
		}
		seen = append(seen, name)
		if err := r.expect(':'); err != nil {
			return err
		}
		if _, err := r.next(); err != nil {
			return err
		}
		if err := member(name); err != nil {
			return err
		}
		c, err := r.next()
		if err != nil {
			return err
		}
		r.pos++
		switch c {
		case ',':
		case '}':
			return nil
		default:
			r.pos--
			return r.errorf("expected ',' or '}'")
		}
	}
}

// array reads an array, calling elem with the reader at each element.
func (r *reader) array(elem func() error) error {
	if err := r.expect('['); err != nil {
		return err
	}
	if c, err := r.next(); err != nil {
		return err
	} else if c == ']' {
		r.pos++
		return nil
	}
	for {
		if _, err := r.next(); err != nil {
			return err
		}
		if err := elem(); err != nil {
			return err
		}
		c, err := r.next()
		if err != nil {
			return err
		}
		r.pos++
		switch c {
		case ',':
		case ']':
			return nil
		default:
			r.pos--
			return r.errorf("expected ',' or ']'")
		}
	}
}

// str reads a string value. The common case (ASCII, no escapes) is sliced
// directly; anything else is decoded by encoding/json for exactness.
func (r *reader) str() (string, error) {
	if r.pos >= len(r.data) {
		return "", errTruncated
	}
	if r.data[r.pos] != '"' {
		return "", r.errorf("expected a string")
	}
	start := r.pos
	for i := start + 1; i < len(r.data); i++ {
		c := r.data[i]
		if c == '"' {
			r.pos = i + 1
			return string(r.data[start+1 : i]), nil
		}
		if c == '\\' || c < 0x20 || c >= 0x80 {
			break
		}
	}
	if err := r.skipString(); err != nil {
		return "", err
	}
	var s string
	if err := json.Unmarshal(r.data[start:r.pos], &s); err != nil {
		r.pos = start
		return "", r.errorf("bad string")
	}
	return s, nil
}

// skipString moves past a string. It only finds the closing quote
// (honouring backslashes); every string keyctl uses is decoded strictly
// later (str, jwk.Parse, the JWE parser), which rejects bad escapes and
// control characters. Finding quotes with IndexByte keeps skipping key
// material cheap.
func (r *reader) skipString() error {
	i := r.pos + 1
	for {
		j := bytes.IndexByte(r.data[i:], '"')
		if j < 0 {
			return errTruncated
		}
		q := i + j
		backslashes := 0
		for k := q - 1; k > r.pos && r.data[k] == '\\'; k-- {
			backslashes++
		}
		if backslashes%2 == 0 {
			r.pos = q + 1
			return nil
		}
		i = q + 1
	}
}

// raw reads any JSON value, validating its syntax, and returns its bytes.
func (r *reader) raw() ([]byte, error) {
	if _, err := r.next(); err != nil {
		return nil, err
	}
	start := r.pos
	if err := r.skip(0); err != nil {
		return nil, err
	}
	return r.data[start:r.pos], nil
}

func (r *reader) skip(depth int) error {
	if depth > maxDepth {
		return r.errorf("nested too deeply")
	}
	c, err := r.next()
	if err != nil {
		return err
	}
	switch {
	case c == '{':
		r.pos++
		if c, err := r.next(); err != nil {
			return err
		} else if c == '}' {
			r.pos++
			return nil
		}
		for {
			if c, err := r.next(); err != nil {
				return err
			} else if c != '"' {
				return r.errorf("expected a member name")
			}
			if err := r.skipString(); err != nil {
				return err
			}
			if err := r.expect(':'); err != nil {
				return err
			}
			if err := r.skip(depth + 1); err != nil {
				return err
			}
			c, err := r.next()
			if err != nil {
				return err
			}
			r.pos++
			if c == '}' {
				return nil
			}
			if c != ',' {
				r.pos--
				return r.errorf("expected ',' or '}'")
			}
		}
	case c == '[':
		r.pos++
		if c, err := r.next(); err != nil {
			return err
		} else if c == ']' {
			r.pos++
			return nil
		}
		for {
			if err := r.skip(depth + 1); err != nil {
				return err
			}
			c, err := r.next()
			if err != nil {
				return err
			}
			r.pos++
			if c == ']' {
				return nil
			}
			if c != ',' {
				r.pos--
				return r.errorf("expected ',' or ']'")
			}
		}
	case c == '"':
		return r.skipString()
	case c == 't':
		return r.literal("true")
	case c == 'f':
		return r.literal("false")
	case c == 'n':
		return r.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		return r.number()
	}
	return r.errorf("unexpected character %q", c)
}

func (r *reader) literal(word string) error {
	if len(r.data)-r.pos < len(word) {
		return errTruncated
	}
	if string(r.data[r.pos:r.pos+len(word)]) != word {
		return r.errorf("bad literal")
	}
	r.pos += len(word)
	return nil
}

func (r *reader) number() error {
	start := r.pos
	digits := func() int {
		n := 0
		for r.pos < len(r.data) && '0' <= r.data[r.pos] && r.data[r.pos] <= '9' {
			r.pos++
			n++
		}
		return n
	}
	if r.data[r.pos] == '-' {
		r.pos++
	}
	if r.pos < len(r.data) && r.data[r.pos] == '0' {
		r.pos++
	} else if digits() == 0 {
		return r.errorf("bad number")
	}
	if r.pos < len(r.data) && r.data[r.pos] == '.' {
		r.pos++
		if digits() == 0 {
			return r.errorf("bad number")
		}
	}
	if r.pos < len(r.data) && (r.data[r.pos] == 'e' || r.data[r.pos] == 'E') {
		r.pos++
		if r.pos < len(r.data) && (r.data[r.pos] == '+' || r.data[r.pos] == '-') {
			r.pos++
		}
		if digits() == 0 {
			return r.errorf("bad number")
		}
	}
	if r.pos == start {
		return r.errorf("bad number")
	}
	return nil
}

// integer reads a number that must be a whole int.
func (r *reader) integer() (int, error) {
	raw, err := r.raw()
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(string(raw))
	if err != nil {
		return 0, fmt.Errorf("%s is not an integer", raw)
	}
	return n, nil
}

// boolean reads true or false.
func (r *reader) boolean() (bool, error) {
	c, err := r.next()
	if err != nil {
		return false, err
	}
	if c == 't' {
		return true, r.literal("true")
	}
	if c == 'f' {
		return false, r.literal("false")
	}
	return false, r.errorf("expected true or false")
}

// end checks that only white space follows.
func (r *reader) end() error {
	r.ws()
	if r.pos != len(r.data) {
		return r.errorf("unexpected data after the JSON object")
	}
	return nil
}
