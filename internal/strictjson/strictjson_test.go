package strictjson

import (
	"encoding/json"
	"errors"
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
