package serve

import (
	"slices"
	"strings"
	"testing"
)

func TestParseETagList(t *testing.T) {
	tests := []struct {
		in   string
		want []string // nil: malformed
	}{
		{`"a"`, []string{`"a"`}},
		{`W/"a"`, []string{`"a"`}},
		{` "a" , W/"b",,"c" `, []string{`"a"`, `"b"`, `"c"`}},
		{`*`, []string{"*"}},
		{` * `, []string{"*"}},
		{`""`, []string{`""`}},
		{`"a""b"`, nil},
		{`"a" "b"`, nil},
		{`a`, nil},
		{`"a`, nil},
		{`W/`, nil},
		{`w/"a"`, nil},
		{`"a b"`, nil},
		{"\"a\x7f\"", nil},
		{`"a",*`, nil},
		{``, nil},
		{`,`, nil},
	}
	for _, tt := range tests {
		got, ok := parseETagList(tt.in)
		if (tt.want == nil) == ok || !slices.Equal(got, tt.want) && tt.want != nil {
			t.Errorf("parseETagList(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
	}
}

func TestNoneMatch(t *testing.T) {
	etag := `"abc"`
	for in, want := range map[string]bool{
		`"abc"`:          true,
		`W/"abc"`:        true,
		`"x", "abc"`:     true,
		`*`:              true,
		`"abcd"`:         false,
		`abc`:            false,
		`"ABC"`:          false,
		`"x" "abc"`:      false,
		`"x", garbage`:   false,
		`"abc", garbage`: false,
	} {
		if got := noneMatch(in, etag); got != want {
			t.Errorf("noneMatch(%q, %s) = %v, want %v", in, etag, got, want)
		}
	}
	if noneMatch("*", "not-quoted") {
		t.Error("a malformed ETag matched")
	}
}

// FuzzNoneMatch: If-None-Match comes from the network. Whatever it holds,
// nothing panics, a match is always justified by the header, and the tag
// itself, alone or in any list position, always matches.
func FuzzNoneMatch(f *testing.F) {
	for _, s := range []string{`"a"`, `W/"a"`, `*`, `"x", "a"`, `"a`, ``, `,,`, "\"\x80\"", `W/W/"a"`} {
		f.Add(s, `"a"`)
	}
	f.Add(`"0OIqQmraHBNMTlZSMTY9zedF"`, ETag([]byte("{\"keys\":[]}\n")))
	f.Fuzz(func(t *testing.T, header, etag string) {
		got := noneMatch(header, etag)
		tags, ok := parseETagList(header)
		if got && (!ok || (!slices.Contains(tags, "*") && !strings.Contains(header, strings.TrimPrefix(etag, "W/")))) {
			t.Fatalf("noneMatch(%q, %q) matched without the tag in the header", header, etag)
		}
		for _, tag := range tags {
			if tag != "*" {
				if _, ok := opaqueTag(tag); !ok {
					t.Fatalf("parsed tag %q is not a valid entity tag", tag)
				}
			}
		}
		if _, valid := opaqueTag(etag); valid {
			for _, h := range []string{etag, "W/" + strings.TrimPrefix(etag, "W/"), `"zz", ` + etag, etag + `, "zz"`} {
				if !noneMatch(h, etag) {
					t.Fatalf("noneMatch(%q, %q) = false", h, etag)
				}
			}
		}
	})
}
