package strictjson

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// readAny reads one value of any shape with the Reader's strict methods.
func readAny(r *Reader, depth int) error {
	if depth > MaxDepth {
		return errors.New("too deep")
	}
	c, err := r.Peek()
	if err != nil {
		return err
	}
	switch c {
	case '{':
		return r.Object(func(string) error { return readAny(r, depth+1) })
	case '[':
		return r.Array(func() error { return readAny(r, depth+1) })
	case '"':
		_, err := r.Str()
		return err
	case 't', 'f':
		_, err := r.Bool()
		return err
	}
	_, err = r.Raw()
	return err
}

func readAll(data []byte) error {
	r := NewReader(data)
	if err := readAny(r, 1); err != nil {
		return err
	}
	return r.End()
}

func TestReader(t *testing.T) {
	for _, tc := range []struct {
		in, err string
	}{
		{`{"a": [1, true, null, "x", {"b": -1.5e3}]}`, ""},
		{`{"a": 1, "a": 2}`, `duplicate member "a"`},
		{`{"a": {"b": 1, "\u0062": 2}}`, `duplicate member "b"`},
		{`{"a": "\ud800"}`, "lone UTF-16 surrogate"},
		{"{\"a\": \"\x01\"}", "control character"},
		{"{\"a\": \"\xff\"}", "not valid UTF-8"},
		{`{"a": 1`, "truncated"},
		{`{"a": "x`, "truncated"},
		{`{"a": tru`, "truncated"},
		{`{"a": -`, "truncated"},
		{`{"a": 1} x`, "unexpected data after the JSON object"},
		{`{"a" 1}`, `expected ':'`},
		{`{"a": 1 "b": 2}`, `expected ',' or '}'`},
		{`[1 2]`, `expected ',' or ']'`},
		{`{"a": nul}`, "bad literal"},
		{`{"a": 01}`, `expected ',' or '}'`},
		{strings.Repeat("[", 70) + strings.Repeat("]", 70), "too deep"},
	} {
		err := readAll([]byte(tc.in))
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.in, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: %v, want %q", tc.in, err, tc.err)
		}
	}
	// Raw checks syntax only, and returns the value's bytes.
	r := NewReader([]byte(` {"k": {"d": "\u00e9", "d": [1, {"x": null}]}} `))
	var raw []byte
	err := r.Object(func(string) error {
		var err error
		raw, err = r.Raw()
		return err
	})
	if err != nil || r.End() != nil || string(raw) != `{"d": "\u00e9", "d": [1, {"x": null}]}` {
		t.Errorf("Raw: %q, %v", raw, err)
	}
	if _, err := NewReader([]byte(`{"a": 1}`)).Int(); err == nil {
		t.Error("Int of an object")
	}
	if n, err := NewReader([]byte(` 42 `)).Int(); n != 42 || err != nil {
		t.Errorf("Int: %d, %v", n, err)
	}
}

// FuzzReader: the Reader accepts exactly what ScanObject's checks accept
// (but for top-level names equal in letter case, which only ScanObject
// refuses), and only valid JSON; Raw accepts at least what the strict
// reading does, and ends at the same place.
func FuzzReader(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":[1,2,{"b":"c"}]}`, `{"a":1,"a":2}`, `{"a":"\ud83d\ude00"}`, `{"a":"\ud800"}`, `[1,"x",null]`, `{"A":1,"a":2}`, "{\"a\":\"\\\"\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := readAll(data)
		if err == nil && !json.Valid(data) {
			t.Fatalf("Reader accepted invalid JSON %q", data)
		}
		if len(data) > 0 && strings.HasPrefix(strings.TrimLeft(string(data), " \t\r\n"), "{") {
			cerr := CheckObject(data)
			var e *Error
			folded := errors.As(cerr, &e) && e.FoldA != ""
			if (err == nil) != (cerr == nil || folded) {
				t.Fatalf("%q: Reader %v, CheckObject %v", data, err, cerr)
			}
		}
		strict := NewReader(data)
		if readAny(strict, 1) == nil {
			lax := NewReader(data)
			if _, err := lax.Raw(); err != nil || lax.s.pos != strict.s.pos {
				t.Fatalf("%q: Raw %v at %d, strict reading ended at %d", data, err, lax.s.pos, strict.s.pos)
			}
		}
	})
}
