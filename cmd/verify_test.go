package cmd

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/keyctl/keyctl/pkg/jwt"
)

func TestAppendLineResult(t *testing.T) {
	for _, tc := range []struct {
		n      int
		res    *jwt.Verified
		err    error
		want   string
		status lineStatus
	}{
		{7, &jwt.Verified{KID: "k", Alg: "ES256", Claims: []byte(`{ "a" : "<b>" }`)}, nil,
			`{"line":7,"valid":true,"kid":"k","alg":"ES256","claims":{"a":"<b>"}}`, lineValid},
		{8, nil, &jwt.ValidationError{Failures: []jwt.Failure{{Check: jwt.CheckExp, Reason: `exp is "soon"`}}},
			`{"line":8,"valid":false,"checks":["exp"],"reasons":["exp is \"soon\""]}`, lineRejected},
		{9, nil, errors.New("fetch JWKS: down\nreally"),
			`{"line":9,"valid":false,"error":"fetch JWKS: down really"}`, lineFailed},
	} {
		// Appended after what dst already holds, as a batch does.
		out, status := appendLineResult([]byte("before\n"), tc.n, tc.res, tc.err)
		line, ok := strings.CutPrefix(string(out), "before\n")
		if got := strings.TrimSuffix(line, "\n"); !ok || got != tc.want || status != tc.status || !strings.HasSuffix(line, "\n") {
			t.Errorf("got %q (%v), want %s (%v)", out, status, tc.want, tc.status)
		}
		if !json.Valid([]byte(line)) {
			t.Errorf("not JSON: %s", line)
		}
	}
}

// TestTrimLineEnding: one LF or CRLF ends the line a token was read from;
// a CR alone is no line ending, so it stays for the verifier to name.
func TestTrimLineEnding(t *testing.T) {
	for in, want := range map[string]string{
		"a.b.c":       "a.b.c",
		"a.b.c\n":     "a.b.c",
		"a.b.c\r\n":   "a.b.c",
		"a.b.c\r":     "a.b.c\r",
		"a.b.c\r\r\n": "a.b.c\r",
		"a.b.c\n\n":   "a.b.c\n",
		"a.b.c\n\r":   "a.b.c\n\r",
		"\r\n":        "",
		"\r":          "\r",
		"":            "",
	} {
		if got := string(trimLineEnding([]byte(in))); got != want {
			t.Errorf("trimLineEnding(%q) = %q, want %q", in, got, want)
		}
	}
}
