package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

// readAny reads one value of any shape with the Reader's strict methods;
// the Reader bounds the depth of the recursion.
func readAny(r *Reader) error {
	c, err := r.Peek()
	if err != nil {
		return err
	}
	switch c {
	case '{':
		return r.Object(func(string) error { return readAny(r) })
	case '[':
		return r.Array(func() error { return readAny(r) })
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

// nest puts a string in n arrays between prefix and suffix.
func nest(prefix string, n int, suffix string) string {
	return prefix + strings.Repeat("[", n) + `"x"` + strings.Repeat("]", n) + suffix
}

func readAll(data []byte) error {
	r := NewReader(data)
	if err := readAny(r); err != nil {
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
		{`{"a": "\ud800"}`, "offset 6: string escapes a lone UTF-16 surrogate"},
		{`{"a": "x\q"}`, "offset 6: bad string escape"},
		{"{\"a\": \"\xff\"}", "offset 6: string is not valid UTF-8"},
		{"{\"a\": \"\x01\"}", "control character"},
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
		{strings.Repeat("[", 70) + strings.Repeat("]", 70), "nested too deeply"},
		// A value may sit in MaxDepth objects and arrays, as in ScanObject.
		{nest(`{"a":`, MaxDepth-1, `}`), ""},
		{nest(`{"a":`, MaxDepth, `}`), "nested too deeply"},
		{nest("", MaxDepth, ""), ""},
		{nest("", MaxDepth+1, ""), "nested too deeply"},
		// An empty array holds nothing nested, however deep it is.
		{strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1), ""},
		{strings.Repeat("[", MaxDepth+2) + strings.Repeat("]", MaxDepth+2), "nested too deeply"},
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
// refuses), and exactly the valid JSON that encoding/json's own tokenizer
// finds free of repeated names and deep nesting (see strictByStdlib);
// Raw accepts at least what the strict reading does, and ends at the same
// place.
func FuzzReader(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":[1,2,{"b":"c"}]}`, `{"a":1,"a":2}`, `{"a":"\ud83d\ude00"}`, `{"a":"\ud800"}`, `[1,"x",null]`, `{"A":1,"a":2}`, "{\"a\":\"\\\"\"}",
		`[{"a":1},{"a":1}]`, `{"a":{"b":1},"b":{"a":1}}`, `{"\u0061":1,"a":2}`,
		nest(`{"a":`, MaxDepth-1, `}`), nest(`{"a":`, MaxDepth, `}`), nest("", MaxDepth, ""), nest("", MaxDepth+1, "")} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := readAll(data)
		if err == nil && !json.Valid(data) {
			t.Fatalf("Reader accepted invalid JSON %q", data)
		}
		if json.Valid(data) {
			if want, known := strictByStdlib(data); known && (err == nil) != want {
				t.Fatalf("%q: Reader %v, but by encoding/json's tokens acceptable=%v", data, err, want)
			}
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
		if readAny(strict) == nil {
			lax := NewReader(data)
			if _, err := lax.Raw(); err != nil || lax.s.pos != strict.s.pos {
				t.Fatalf("%q: Raw %v at %d, strict reading ended at %d", data, err, lax.s.pos, strict.s.pos)
			}
		}
	})
}

// strictByStdlib says whether the Reader should accept data, valid JSON,
// working it out with encoding/json's tokenizer instead of strictjson's:
// valid UTF-8, no object with a name twice (names compared unescaped) and
// no value inside more than MaxDepth objects and arrays. It does not know
// (known false) when data may escape a UTF-16 surrogate: encoding/json
// reads a lone one as U+FFFD, so its tokens cannot tell.
func strictByStdlib(data []byte) (accept, known bool) {
	if !utf8.Valid(data) {
		return false, true
	}
	lower := bytes.ToLower(data)
	if bytes.Contains(lower, []byte(`\ud`)) {
		return false, false
	}
	type frame struct {
		object, atName bool
		names          map[string]bool
	}
	var open []*frame
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return true, true
		}
		if err != nil {
			return false, false // json.Valid said otherwise: not this oracle's business
		}
		var top *frame
		if len(open) > 0 {
			top = open[len(open)-1]
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			open = open[:len(open)-1]
			continue
		}
		if top != nil && top.object && top.atName {
			name := tok.(string)
			if top.names[name] {
				return false, true
			}
			top.names[name] = true
			top.atName = false
			continue
		}
		if len(open) > MaxDepth {
			return false, true
		}
		if top != nil && top.object {
			top.atName = true // after this value, a name or the end
		}
		if d, ok := tok.(json.Delim); ok {
			open = append(open, &frame{object: d == '{', atName: d == '{', names: map[string]bool{}})
		}
	}
}
