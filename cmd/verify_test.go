package cmd

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/keyctl/keyctl/pkg/jwt"
)

func TestReadBoundedLine(t *testing.T) {
	long := strings.Repeat("x", 100)
	in := "a.b.c\r\n\nlast-no-newline-" + long + "\n" + strings.Repeat("y", 5000) + "\r\nz"
	r := bufio.NewReaderSize(strings.NewReader(in), 16) // lines longer than the buffer
	type line struct {
		text string
		size int
	}
	want := []line{{"a.b.c", 5}, {"", 0}, {"last-no-newline-" + long[:35], 116}, {strings.Repeat("y", 51), 5000}, {"z", 1}}
	for i, w := range want {
		got, size, err := readBoundedLine(r, 50)
		if err != nil || string(got) != w.text || size != w.size {
			t.Fatalf("line %d: %q (%d) %v, want %q (%d)", i+1, got, size, err, w.text, w.size)
		}
	}
	if _, _, err := readBoundedLine(r, 50); err != io.EOF {
		t.Fatalf("after the last line: %v", err)
	}
}

func TestEncodeLineResult(t *testing.T) {
	ok := encodeLineResult(7, &jwt.Verified{KID: "k", Alg: "ES256", Claims: []byte(`{ "a" : "<b>" }`)}, nil)
	bad := encodeLineResult(8, nil, &jwt.ValidationError{Failures: []jwt.Failure{{Check: jwt.CheckExp, Reason: `exp is "soon"`}}})
	broken := encodeLineResult(9, nil, errors.New("fetch JWKS: down\nreally"))
	for _, tc := range []struct {
		r              lineResult
		want           string
		rejected, fail bool
	}{
		{ok, `{"line":7,"valid":true,"kid":"k","alg":"ES256","claims":{"a":"<b>"}}`, false, false},
		{bad, `{"line":8,"valid":false,"checks":["exp"],"reasons":["exp is \"soon\""]}`, true, false},
		{broken, `{"line":9,"valid":false,"error":"fetch JWKS: down really"}`, false, true},
	} {
		if got := strings.TrimSuffix(string(tc.r.out), "\n"); got != tc.want || tc.r.rejected != tc.rejected || tc.r.failed != tc.fail {
			t.Errorf("got %s (%v %v), want %s", got, tc.r.rejected, tc.r.failed, tc.want)
		}
		if !json.Valid(tc.r.out) {
			t.Errorf("not JSON: %s", tc.r.out)
		}
	}
}
