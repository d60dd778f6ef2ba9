package jwt

import (
	"strings"
	"testing"
)

// TestPasteProblem: each way a pasted token gets mangled is named, with a
// fix; a token without such an accident has none.
func TestPasteProblem(t *testing.T) {
	const tok = "eyJhbGciOiJFUzI1NiJ9.eyJleHAiOjF9.c2ln"
	for _, c := range []struct {
		in, problem, fix string
	}{
		{tok, "", ""},
		{"", "empty token", "unset shell variable"},
		{"Bearer " + tok, `token starts with "Bearer "`, `only the part after "Bearer "`},
		{"BEARER  " + tok, `token starts with "BEARER  "`, `only the part after`},
		{tok + "\r", `token ends with a carriage return (\r)`, `tr -d '\r'`},
		{tok + "\r\n", `token ends with a carriage return (\r)`, `tr -d '\r'`},
		{" " + tok, "token has white space before it", "tr -d '[:space:]'"},
		{tok + " ", "token has white space after it", "tr -d '[:space:]'"},
		{tok + "\n", "token has a line break after it", "tr -d '[:space:]'"},
		{"\n" + tok + "\n", "token has line breaks before and after it", "tr -d '[:space:]'"},
		{" \t\n", "token is only white space", "unset shell variable"},
		{"a.b c.d", "", ""}, // inside: the encoding check names the segment
	} {
		problem, fix := PasteProblem([]byte(c.in))
		if !strings.Contains(problem, c.problem) || (c.problem == "") != (problem == "") {
			t.Errorf("PasteProblem(%q) problem = %q, want %q", c.in, problem, c.problem)
		}
		if !strings.Contains(fix, c.fix) || (c.fix == "") != (fix == "") {
			t.Errorf("PasteProblem(%q) fix = %q, want %q", c.in, fix, c.fix)
		}
	}
}
