package strictjson

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrTruncated is a Reader's error for input that ends inside a value.
var ErrTruncated = errors.New("truncated: the JSON ends early")

// Reader reads one JSON text in a single pass, value by value, for a
// caller that knows the shape it expects: it is how keyctl reads its
// keyring file, without encoding/json's reflection and three passes. It
// scans with the same tokenizer as ScanObject and the values it reads are
// as strictly checked: no repeated member names, no lone UTF-16 surrogate
// escapes, no control characters or invalid UTF-8 in strings (Raw checks
// syntax only, see there), and no value nested in more than MaxDepth
// objects and arrays, however the caller's callbacks nest. Errors are
// *Error (or ErrTruncated) and say the byte offset.
type Reader struct {
	s scanner
	// depth counts the objects and arrays open at the read position, as
	// the scanner's depth does, so a caller reading nested values through
	// callbacks gets the same bound as ScanObject. Object and Array check
	// it before each member or element, which is where it can grow, and
	// not in Str and Bool, which are the hot path.
	depth int
}

// NewReader returns a Reader of data.
func NewReader(data []byte) *Reader {
	return &Reader{s: scanner{data: data, truncated: ErrTruncated, utf8Unchecked: true}}
}

// Peek returns the next byte that is not white space, without consuming it.
func (r *Reader) Peek() (byte, error) {
	r.s.skipSpace()
	if r.s.pos >= len(r.s.data) {
		return 0, ErrTruncated
	}
	return r.s.data[r.s.pos], nil
}

// open consumes the bracket that starts an object or array.
func (r *Reader) open(c byte) error {
	if err := r.expect(c); err != nil {
		return err
	}
	r.depth++
	return nil
}

func (r *Reader) expect(c byte) error {
	got, err := r.Peek()
	if err != nil {
		return err
	}
	if got != c {
		return r.s.errorf("expected %q, found %q", c, got)
	}
	r.s.pos++
	return nil
}

// Object reads an object, calling member with each name and the Reader at
// its value, which member must consume. A repeated name is an *Error with
// Dup set.
func (r *Reader) Object(member func(name string) error) error {
	if err := r.open('{'); err != nil {
		return err
	}
	if c, err := r.Peek(); err != nil {
		return err
	} else if c == '}' {
		r.s.pos++
		r.depth--
		return nil
	}
	var names nameSet
	for {
		if c, err := r.Peek(); err != nil {
			return err
		} else if c != '"' {
			return r.s.errorf("expected a member name")
		}
		name, err := r.s.str()
		if err != nil {
			return err
		}
		if names.seen(name) {
			return &Error{Duplicate: true, Dup: string(name)}
		}
		if err := r.expect(':'); err != nil {
			return err
		}
		if _, err := r.Peek(); err != nil {
			return err
		}
		if r.depth > MaxDepth {
			return r.s.errorf("nested too deeply")
		}
		if err := member(string(name)); err != nil {
			return err
		}
		if err := r.more('}'); err != nil {
			if err == errClosed {
				return nil
			}
			return err
		}
	}
}

// errClosed tells Object and Array that the closing bracket was read.
var errClosed = errors.New("closed")

// more reads the ',' between two members or elements, or the closing
// bracket (then errClosed, and the container is closed).
func (r *Reader) more(closing byte) error {
	c, err := r.Peek()
	if err != nil {
		return err
	}
	switch c {
	case ',':
		r.s.pos++
		return nil
	case closing:
		r.s.pos++
		r.depth--
		return errClosed
	}
	return r.s.errorf("expected ',' or '%c'", closing)
}

// Array reads an array, calling elem with the Reader at each element,
// which elem must consume.
func (r *Reader) Array(elem func() error) error {
	if err := r.open('['); err != nil {
		return err
	}
	if c, err := r.Peek(); err != nil {
		return err
	} else if c == ']' {
		r.s.pos++
		r.depth--
		return nil
	}
	for {
		if _, err := r.Peek(); err != nil {
			return err
		}
		if r.depth > MaxDepth {
			return r.s.errorf("nested too deeply")
		}
		if err := elem(); err != nil {
			return err
		}
		if err := r.more(']'); err != nil {
			if err == errClosed {
				return nil
			}
			return err
		}
	}
}

// Str reads a string and returns it unescaped.
func (r *Reader) Str() (string, error) {
	c, err := r.Peek()
	if err != nil {
		return "", err
	}
	if c != '"' {
		return "", r.s.errorf("expected a string")
	}
	b, err := r.s.str()
	return string(b), err
}

// Raw reads any value and returns its bytes, checking its syntax only:
// member names and string contents inside it are left to whoever parses
// it (with ScanObject, as jwk.Parse does when a key is used). That keeps
// skipping past key material about as cheap as finding its quotes, which
// is what makes a keyring of a thousand keys load in a few milliseconds.
func (r *Reader) Raw() ([]byte, error) {
	if _, err := r.Peek(); err != nil {
		return nil, err
	}
	start := r.s.pos
	r.s.lax = true
	err := r.s.value(r.depth)
	r.s.lax = false
	if err != nil {
		return nil, err
	}
	return r.s.data[start:r.s.pos], nil
}

// Int reads a number that must be a whole int.
func (r *Reader) Int() (int, error) {
	raw, err := r.Raw()
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(string(raw))
	if err != nil {
		return 0, fmt.Errorf("%s is not an integer", raw)
	}
	return n, nil
}

// Bool reads true or false.
func (r *Reader) Bool() (bool, error) {
	c, err := r.Peek()
	if err != nil {
		return false, err
	}
	switch c {
	case 't':
		return true, r.s.literal("true")
	case 'f':
		return false, r.s.literal("false")
	}
	return false, r.s.errorf("expected true or false")
}

// End checks that only white space is left.
func (r *Reader) End() error {
	r.s.skipSpace()
	if r.s.pos != len(r.s.data) {
		return r.s.errorf("unexpected data after the JSON object")
	}
	return nil
}
