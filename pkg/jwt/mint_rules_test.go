package jwt

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  string
	}{
		{in: "4102444800", want: 4102444800},
		{in: "0", want: 0},
		{in: "2100-01-01T00:00:00Z", want: 4102444800},
		{in: "2100-01-01T01:00:00+01:00", want: 4102444800},
		{in: "253402300799", want: 253402300799},
		{in: "9999-12-31T23:59:59Z", want: 253402300799},
		{in: "253402300800", err: "253402300800 is after 9999-12-31T23:59:59Z"},
		{in: "99999999999999", err: "99999999999999 is after 9999-12-31T23:59:59Z"},
		{in: "9223372036854775807", err: "9223372036854775807 is after 9999-12-31T23:59:59Z"},
		{in: "99999999999999999999999", err: "99999999999999999999999 is after 9999-12-31T23:59:59Z"},
		{in: "9999-12-31T23:59:59-01:00", err: "9999-12-31T23:59:59-01:00 is after 9999-12-31T23:59:59Z"},
		{in: "-1", err: "-1 is before 1970-01-01T00:00:00Z"},
		{in: "-9223372036854775809", err: "is before 1970-01-01T00:00:00Z"},
		{in: "1969-12-31T23:59:59Z", err: "is before 1970-01-01T00:00:00Z"},
		{in: "2026-01-01T00:00:00.5Z", err: "has a fraction of a second"},
		{in: "+5", err: "neither RFC 3339"},
		{in: "", err: "neither RFC 3339"},
		{in: "tomorrow", err: `"tomorrow" is neither RFC 3339`},
		{in: "2026-01-01", err: "neither RFC 3339"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTime(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseTime(%q) = %v, %v; want error %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || got.Unix() != tt.want {
				t.Fatalf("ParseTime(%q) = %v (%d), %v; want %d", tt.in, got, got.Unix(), err, tt.want)
			}
		})
	}
}

// FuzzParseTime: any text either fails or gives a whole-second time in the
// range a token may carry, which reads back the same as Unix seconds.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"0", "4102444800", "2100-01-01T00:00:00Z", "9223372036854775807", "-1",
		"99999999999999", "9999-12-31T23:59:59-01:00", "2026-01-01T00:00:00.5Z", "+1", "1e9", " 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseTime(s)
		if err != nil {
			return
		}
		if got.Before(MinTime) || got.After(MaxTime) || got.Nanosecond() != 0 {
			t.Fatalf("ParseTime(%q) = %v, outside the range or not whole seconds", s, got)
		}
		again, err := ParseTime(time.Unix(got.Unix(), 0).UTC().Format(time.RFC3339))
		if err != nil || !again.Equal(got) {
			t.Fatalf("ParseTime(%q) = %v does not read back: %v %v", s, got, again, err)
		}
	})
}

func TestParseClaimFlags(t *testing.T) {
	got, err := ParseClaimFlags([]string{"email=dev@example.com", "n=42", `o={"a":[1]}`})
	if err != nil {
		t.Fatal(err)
	}
	if s := jsonMarshal(t, got); s != `{"email":"dev@example.com","n":42,"o":{"a":[1]}}` {
		t.Errorf("got %s", s)
	}
	refused := []struct {
		args []string
		err  string
	}{
		{[]string{"a=1", "a=2"}, `claim "a" is given twice`},
		{[]string{"a=1", "A=2"}, `claims "a" and "A" differ only in letter case`},
		{[]string{"ſ=1", "s=2"}, `claims "ſ" and "s" differ only in letter case`},
		{[]string{"a=\xff"}, "not valid UTF-8"},
		{[]string{"\xff=1"}, "not valid UTF-8"},
		{[]string{`o={"x":1,"x":2}`}, `claim "o": duplicate member "x"`},
		{[]string{`s="\ud800"`}, `claim "s":`},
		{[]string{"novalue"}, `claim "novalue" is not key=value`},
	}
	for _, tt := range refused {
		if got, err := ParseClaimFlags(tt.args); err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("ParseClaimFlags(%q) = %v, %v; want error %q", tt.args, got, err, tt.err)
		}
	}
}

func TestClaimSourceErrorIsTyped(t *testing.T) {
	_, err := BuildClaims(ClaimOptions{Role: "anon", Now: time.Unix(1e9, 0), ValidFor: time.Minute, Extra: map[string]any{"exp": json.Number("1")}})
	var cs *ClaimSourceError
	if !errors.As(err, &cs) || cs.Claim != "exp" || cs.Flag != "--exp or --valid-for" || cs.Source != "--claim" {
		t.Fatalf("err = %#v, want a *ClaimSourceError for exp", err)
	}
}

func TestCheckLineClaims(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	bare := ClaimOptions{Role: "authenticated", Now: now, ValidFor: time.Minute, Extra: map[string]any{"tier": "free"}}
	full := bare
	full.Subject, full.Issuer, full.Audience, full.JTI = "s", "i", []string{"a"}, "j"
	tests := []struct {
		name string
		opts ClaimOptions
		line string
		err  string
	}{
		{name: "claims without a flag", opts: full, line: `{"email":"a@b","app_metadata":{"x":1}}`},
		{name: "a line overrides a --claim", opts: bare, line: `{"tier":"pro"}`},
		{name: "sub, iss, aud, jti when their flag is not given", opts: bare, line: `{"sub":"u","iss":"x","aud":["a"],"jti":"j"}`},
		{name: "sub with --sub", opts: full, line: `{"sub":"u"}`, err: "sub is set by --sub, not --claims-from"},
		{name: "iss with --iss", opts: full, line: `{"iss":"u"}`, err: "iss is set by --iss, not --claims-from"},
		{name: "aud with --aud", opts: full, line: `{"aud":"u"}`, err: "aud is set by --aud, not --claims-from"},
		{name: "jti with --jti", opts: full, line: `{"jti":"u"}`, err: "jti is set by --jti, not --claims-from"},
		{name: "role", opts: bare, line: `{"role":"service_role"}`, err: "role is set by --role, not --claims-from"},
		{name: "exp", opts: bare, line: `{"exp":1}`, err: "exp is set by --exp or --valid-for, not --claims-from"},
		{name: "iat", opts: bare, line: `{"iat":1}`, err: "iat is set by --iat, not --claims-from"},
		{name: "nbf", opts: bare, line: `{"nbf":1}`, err: "nbf is set by --nbf, not --claims-from"},
		{name: "is_anonymous", opts: bare, line: `{"is_anonymous":false}`, err: "is_anonymous is set by --role and --sub, not --claims-from"},
		{name: "a flag's claim in other letter case", opts: bare, line: `{"Sub":"u"}`, err: `"Sub" differs only in letter case from sub, which is set by --sub, not --claims-from`},
		{name: "a --claim in other letter case", opts: bare, line: `{"TIER":"pro"}`, err: `claims "tier" (--claim) and "TIER" (--claims-from) differ only in letter case`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, err := BuildClaims(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			line, err := ParseClaims([]byte(tt.line))
			if err != nil {
				t.Fatal(err)
			}
			err = tt.opts.CheckLineClaims(line, base)
			if tt.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || err.Error() != tt.err {
				t.Fatalf("err = %v, want %q", err, tt.err)
			}
		})
	}
}

func TestLifetime(t *testing.T) {
	c, err := BuildClaims(ClaimOptions{Role: "anon", Now: time.Unix(1e9, 0), ValidFor: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if got := Lifetime(c, time.Unix(1e9, 0)); got != 24*time.Hour {
		t.Errorf("Lifetime = %s, want 24h", got)
	}
	// A future iat does not shorten it: the token verifies from now to exp.
	c, err = BuildClaims(ClaimOptions{Role: "anon", Now: time.Unix(1e9, 0), IssuedAt: time.Unix(1e9+86400, 0), ValidFor: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if got := Lifetime(c, time.Unix(1e9, 0)); got != 24*time.Hour+5*time.Minute {
		t.Errorf("Lifetime with a future iat = %s, want 24h5m", got)
	}
}
