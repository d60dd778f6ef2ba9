package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestCheckObject(t *testing.T) {
	ok := []string{
		`{}`, ` {"a":1} `, `{"a":{"a":1},"b":[{"a":1},{"a":2}]}`, `{"a":"\"","b":"\\"}`,
		`{"n":-0.5e+10,"t":true,"f":false,"z":null,"s":"é\u00e9"}`, "{\n\t\"a\" : [ ]\r\n}",
	}
	for _, s := range ok {
		if err := CheckObject([]byte(s)); err != nil {
			t.Errorf("CheckObject(%s) = %v", s, err)
		}
	}
	bad := map[string]string{
		`{"a":1,"a":2}`:         "duplicate",
		`{"a":1,"\u0061":2}`:    "duplicate",
		`{"x":{"a":1,"a":2}}`:   "duplicate",
		`{"x":[{"a":1,"a":2}]}`: "duplicate",
		`[]`:                    "not a JSON object",
		``:                      "not a JSON object",
		`{"a":1}x`:              "after the JSON object",
		`{"a":1`:                "unexpected end",
		`{"a" 1}`:               "expected ':'",
		`{"a":01}`:              "expected ','",
		`{"a":1.}`:              "bad number",
		`{"a":tru}`:             "bad literal",
		"{\"a\":\"\x01\"}":      "control character",
		`{"a":"\x"}`:            "bad string escape",
		`{a:1}`:                 "expected a member name",
		`{"a":[1,]}`:            "unexpected character",
		strings.Repeat(`{"a":`, 100) + `1` + strings.Repeat(`}`, 100): "nested too deeply",
	}
	for s, want := range bad {
		err := CheckObject([]byte(s))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckObject(%q) = %v, want %q", s, err, want)
		}
	}
	if err := CheckObject([]byte(`{"a":1,"a":2}`)); !errors.Is(err, ErrDuplicateMember) {
		t.Errorf("not ErrDuplicateMember: %v", err)
	}
	// Nested names may differ in case; only the top level is compared so.
	if err := CheckObject([]byte(`{"x":{"a":1,"A":2}}`)); err != nil {
		t.Errorf("nested case variants refused: %v", err)
	}
	// Surrogate pairs are fine.
	if err := CheckObject([]byte(`{"a":"\ud83d\ude00"}`)); err != nil {
		t.Errorf("a surrogate pair refused: %v", err)
	}
	ms, err := ScanObject([]byte(` {"b":[1, 2],"a":"x"} `), nil)
	if err != nil || len(ms) != 2 || string(ms[0].Name) != "b" || string(ms[0].Value) != "[1, 2]" || string(ms[1].Value) != `"x"` {
		t.Errorf("ScanObject members %q, %v", ms, err)
	}
}

// FuzzCheckObject: never panics, and never accepts what encoding/json
// rejects as an object.
func FuzzCheckObject(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":[1,2,{"b":null}]}`, `{"a":1,"a":2}`, `{"\u0061":"\ud800"}`, `{"a":1e5}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if CheckObject(data) != nil {
			return
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("accepted %q, which encoding/json rejects: %v", data, err)
		}
	})
}

func TestStrings(t *testing.T) {
	good := map[string][]string{
		`[]`:                   {},
		` [ ] `:                {},
		`["sign"]`:             {"sign"},
		`["sign", "verify"]`:   {"sign", "verify"},
		`["\u0073ign","a\"b"]`: {"sign", `a"b`},
	}
	for in, want := range good {
		got, ok := Strings([]byte(in))
		if !ok || !slices.Equal(got, want) || got == nil {
			t.Errorf("Strings(%s) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{``, `null`, `"sign"`, `{}`, `[1]`, `["a",1]`, `["a",]`, `["a" "b"]`, `["a"`, `[["a"]]`, `["a"] x`, `[null]`} {
		if got, ok := Strings([]byte(in)); ok {
			t.Errorf("Strings(%s) = %q, want a refusal", in, got)
		}
	}
}

func TestKind(t *testing.T) {
	for in, want := range map[string]string{``: "nothing", `"a"`: "a string", `{}`: "an object", `[]`: "an array",
		`true`: "a boolean", `false`: "a boolean", `null`: "null", `-1`: "a number", `2e3`: "a number"} {
		if got := Kind([]byte(in)); got != want {
			t.Errorf("Kind(%s) = %q, want %q", in, got, want)
		}
	}
}

// FuzzStrings: on any value ScanObject accepts, Strings agrees with
// encoding/json decoding into []string (except that it refuses null
// elements, which encoding/json reads as ""), and never panics.
func FuzzStrings(f *testing.F) {
	for _, s := range []string{`[]`, `["sign","verify"]`, `["\u00e9"]`, `[1]`, `"x"`, `["a",["b"]]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, ok := Strings(raw)
		ms, err := ScanObject(append(append([]byte(`{"v":`), raw...), '}'), nil)
		if err != nil || len(ms) != 1 {
			return
		}
		var want []string
		jerr := json.Unmarshal(ms[0].Value, &want)
		isArray := len(bytes.TrimSpace(raw)) > 0 && bytes.TrimSpace(raw)[0] == '['
		switch {
		case jerr == nil && isArray && !bytes.Contains(raw, []byte("null")):
			if !ok || !slices.Equal(got, want) {
				t.Fatalf("Strings(%q) = %q, %v; encoding/json reads %q", raw, got, ok, want)
			}
		case ok:
			t.Fatalf("Strings(%q) = %q, but encoding/json refuses it as []string: %v", raw, got, jerr)
		}
	})
}

// The empty name repeated is a duplicate like any other: named as one,
// not a syntax error with no message.
func TestDuplicateEmptyName(t *testing.T) {
	_, err := ScanObject([]byte(`{"":0,"":1}`), nil)
	var je *Error
	if !errors.As(err, &je) || !je.NameClash() || !errors.Is(err, ErrDuplicateMember) || err.Error() != `duplicate member ""` {
		t.Fatalf("%v", err)
	}
}
