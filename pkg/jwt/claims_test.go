package jwt

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyctl/keyctl/pkg/strictjson"
)

// jsonMarshal is encoding/json's output, the reference MarshalClaims must
// match byte for byte.
func jsonMarshal(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	return string(b)
}

func TestMarshalClaimsMatchesEncodingJSON(t *testing.T) {
	tests := []struct {
		name   string
		claims map[string]any
	}{
		{"empty", map[string]any{}},
		{"sorted keys", map[string]any{"sub": "u", "aud": "x", "exp": int64(2), "iat": int64(1), "role": "r", "Z": 1, "a": 2, "": 3}},
		{"byte order not case order", map[string]any{"b": 1, "B": 2, "a": 3, "A": 4, "é": 5, "e": 6}},
		{"html escapes", map[string]any{"email": "<a href='x'>&amp;</a>", "<k>": ">"}},
		{"control characters", map[string]any{"s": "tab\tnl\nret\rbs\bff\fnul\x00esc\x1bdel\x7f"}},
		{"quotes and backslashes", map[string]any{`"k\`: `a"b\c/d`}},
		{"invalid utf-8", map[string]any{"s": "ok\xffbad\xc3(trunc\xe2\x82", "k\xfe": 1}},
		{"line and paragraph separators", map[string]any{"s": "a\u2028b\u2029c\u2027d"}},
		{"multibyte", map[string]any{"name": "Zoë 日本 😀", "long": strings.Repeat("ab<", 40)}},
		{"floats", map[string]any{
			"zero": 0.0, "negzero": math.Copysign(0, -1), "half": 0.5, "big": 1e21, "below": 999999999999999999999.0,
			"tiny": 1e-7, "edge": 1e-6, "neg": -123.456, "third": 1.0 / 3, "max": math.MaxFloat64, "smallest": math.SmallestNonzeroFloat64,
			"exp2": 1e-9, "exp3": 1.5e-300, "int": 42.0, "f32": float32(0.1), "f32big": float32(1e22), "f32tiny": float32(1e-7),
		}},
		{"json numbers", map[string]any{"n": json.Number("12345678901234567890123"), "f": json.Number("-0.5e+10"), "zero": json.Number("")}},
		{"integers", map[string]any{
			"int": -1, "int8": int8(-8), "int16": int16(16), "int32": int32(-32), "int64": int64(math.MinInt64),
			"uint": uint(1), "uint8": uint8(255), "uint16": uint16(65535), "uint32": uint32(math.MaxUint32), "uint64": uint64(math.MaxUint64),
		}},
		{"booleans and null", map[string]any{"t": true, "f": false, "n": nil}},
		{"arrays", map[string]any{"aud": []string{"a", "<b>"}, "mixed": []any{1, "two", nil, []any{}, map[string]any{"z": 1, "a": 2}}, "empty": []string{}}},
		{"nil containers", map[string]any{"s": []string(nil), "a": []any(nil), "m": map[string]any(nil)}},
		{"nested objects", map[string]any{"app_metadata": map[string]any{"provider": "email", "providers": []any{"email"}, "z": map[string]any{"y": map[string]any{"x": "<&>"}}}}},
		{"other types via encoding/json", map[string]any{"m": map[string]string{"b": "<", "a": ">"}, "bytes": []byte("hi"), "raw": json.RawMessage(`{"b":1, "a":"<"}`), "ints": []int{3, 1}}},
		{"more members than the stack holds", func() map[string]any {
			m := map[string]any{}
			for i := range 40 {
				m[strings.Repeat("k", i%7)+string(rune('a'+i%26))+string(rune('A'+i/26))] = i
			}
			return m
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MarshalClaims(tt.claims)
			if err != nil {
				t.Fatal(err)
			}
			if want := jsonMarshal(t, tt.claims); string(got) != want {
				t.Errorf("MarshalClaims:\n got %s\nwant %s", got, want)
			}
			// AppendClaims appends after what dst holds.
			got2, err := AppendClaims([]byte("prefix"), tt.claims)
			if err != nil || string(got2) != "prefix"+string(got) {
				t.Errorf("AppendClaims = %q, %v", got2, err)
			}
		})
	}
}

func TestMarshalClaimsDeepNestingMatchesEncodingJSON(t *testing.T) {
	// Past the fast encoder's depth the rest goes to encoding/json: same bytes.
	var v any = map[string]any{"leaf": "<x>", "f": 1e-7}
	for i := range 200 {
		if i%2 == 0 {
			v = map[string]any{"d": v, "a": i}
		} else {
			v = []any{v, float64(i) / 3}
		}
	}
	claims := map[string]any{"deep": v}
	got, err := MarshalClaims(claims)
	if err != nil {
		t.Fatal(err)
	}
	if want := jsonMarshal(t, claims); string(got) != want {
		t.Errorf("deep nesting differs from encoding/json")
	}
}

func TestMarshalClaimsRefuses(t *testing.T) {
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	tests := []struct {
		name   string
		claims map[string]any
	}{
		{"NaN", map[string]any{"x": math.NaN()}},
		{"infinity", map[string]any{"x": []any{math.Inf(-1)}}},
		{"float32 infinity", map[string]any{"x": float32(math.Inf(1))}},
		{"bad json.Number", map[string]any{"x": json.Number("1e")}},
		{"json.Number that is a string", map[string]any{"x": json.Number(`"1"`)}},
		{"json.Number with spaces", map[string]any{"x": json.Number(" 1")}},
		{"json.Number leading zero", map[string]any{"x": json.Number("01")}},
		{"channel", map[string]any{"x": make(chan int)}},
		{"cycle", cyclic},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MarshalClaims(tt.claims)
			if err == nil {
				t.Fatalf("MarshalClaims = %s, want an error", got)
			}
			if tt.name != "cycle" {
				if _, jerr := json.Marshal(tt.claims); jerr == nil {
					t.Fatalf("encoding/json accepts what MarshalClaims refuses")
				}
			}
		})
	}
}

func TestMarshalClaimsTimeIsNumericDate(t *testing.T) {
	got, err := MarshalClaims(map[string]any{"exp": time.Unix(1767225600, 999_000_000).UTC()})
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != `{"exp":1767225600}` {
		t.Errorf("got %s, want Unix seconds", got)
	}
}

// seedClaims reads the fuzz seeds in testdata/claims.
func seedClaims(f *testing.F) [][]byte {
	f.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "claims", "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds in testdata/claims: %v", err)
	}
	var seeds [][]byte
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, data)
	}
	return seeds
}

// FuzzMarshalClaims decodes arbitrary JSON objects the two ways claims
// reach MarshalClaims (json.Number from --payload and --claims-from,
// float64 from plain encoding/json) and checks the bytes against
// encoding/json's.
func FuzzMarshalClaims(f *testing.F) {
	for _, s := range seedClaims(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, useNumber := range []bool{true, false} {
			dec := json.NewDecoder(bytes.NewReader(data))
			if useNumber {
				dec.UseNumber()
			}
			var claims map[string]any
			if dec.Decode(&claims) != nil || claims == nil {
				return
			}
			want, werr := json.Marshal(claims)
			got, gerr := MarshalClaims(claims)
			if (werr == nil) != (gerr == nil) {
				t.Fatalf("encoding/json error %v, MarshalClaims error %v", werr, gerr)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("useNumber=%v\n got %s\nwant %s", useNumber, got, want)
			}
		}
	})
}

// FuzzMarshalClaimsString checks string escaping on arbitrary bytes, which
// JSON input cannot carry (invalid UTF-8 in keys and values).
func FuzzMarshalClaimsString(f *testing.F) {
	for _, s := range []string{"", "plain", "<>&", "\u2028\u2029", "\xff\xfe", "a\x00b", "日本語", "\"\\/", "\xe2\x80", strings.Repeat("x", 17) + "\n"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, key, value string) {
		claims := map[string]any{key: value, "aud": []string{value, key}, "n": map[string]any{value: key}}
		got, err := MarshalClaims(claims)
		if err != nil {
			t.Fatal(err)
		}
		if want := jsonMarshal(t, claims); string(got) != want {
			t.Fatalf("\n got %s\nwant %s", got, want)
		}
	})
}

// FuzzMarshalClaimsFloat checks number formatting on every float64 and
// float32 bit pattern the fuzzer finds.
func FuzzMarshalClaimsFloat(f *testing.F) {
	for _, x := range []float64{0, 1, -1, 0.1, 1e20, 1e21, 1e-6, 1e-7, 123456789.125, math.MaxFloat64, math.SmallestNonzeroFloat64, 5e-324} {
		f.Add(math.Float64bits(x))
	}
	f.Fuzz(func(t *testing.T, bits uint64) {
		for _, v := range []any{math.Float64frombits(bits), math.Float32frombits(uint32(bits))} {
			claims := map[string]any{"v": v}
			want, werr := json.Marshal(claims)
			got, gerr := MarshalClaims(claims)
			if (werr == nil) != (gerr == nil) || !bytes.Equal(got, want) {
				t.Fatalf("%T %v: got %s (%v), want %s (%v)", v, v, got, gerr, want, werr)
			}
		}
	})
}

func TestClaimsTemplateMatchesMarshalClaims(t *testing.T) {
	claimSets := []map[string]any{
		{},
		{"a": 1},
		{"z": 1},
		{"a": 1, "z": "<x>"},
		{"exp": int64(2), "iat": int64(1), "is_anonymous": true, "role": "authenticated", "jti": "ignored"},
		{"jti": "only"},
		{"iss": "x", "jtj": []any{1}, "jt": map[string]any{"jti": "nested is not the member"}},
	}
	for _, claims := range claimSets {
		tmpl, err := NewClaimsTemplate(claims, "jti")
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []string{"", "0b9f6f43-6c4e-4d8b-a1f2-3e5c7d9b1a2f", "<&>\u2028\xff"} {
			with := map[string]any{"jti": v}
			for k, x := range claims {
				if k != "jti" {
					with[k] = x
				}
			}
			want := jsonMarshal(t, with)
			if got := tmpl.AppendString(nil, v); string(got) != want {
				t.Errorf("claims %v value %q:\n got %s\nwant %s", claims, v, got, want)
			}
		}
	}
	if _, err := NewClaimsTemplate(map[string]any{"bad": math.NaN()}, "jti"); err == nil {
		t.Error("a template of unencodable claims was made")
	}
}

func TestBuildClaims(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	exp := now.Add(2 * time.Hour)
	tests := []struct {
		name string
		opts ClaimOptions
		want string // encoding/json of the claims
		err  string
	}{
		{
			name: "anonymous authenticated user",
			opts: ClaimOptions{Role: "authenticated", Now: now, ValidFor: 30 * time.Minute},
			want: `{"exp":1767270600,"iat":1767268800,"is_anonymous":true,"role":"authenticated"}`,
		},
		{
			name: "role matched in any letter case",
			opts: ClaimOptions{Role: "AuThEnTiCaTeD", Now: now, ValidFor: time.Minute},
			want: `{"exp":1767268860,"iat":1767268800,"is_anonymous":true,"role":"AuThEnTiCaTeD"}`,
		},
		{
			name: "sub turns is_anonymous off",
			opts: ClaimOptions{Role: "authenticated", Subject: "user-1", Now: now, ValidFor: time.Minute},
			want: `{"exp":1767268860,"iat":1767268800,"role":"authenticated","sub":"user-1"}`,
		},
		{
			name: "other roles are never anonymous",
			opts: ClaimOptions{Role: "anon", Now: now, ValidFor: time.Minute},
			want: `{"exp":1767268860,"iat":1767268800,"role":"anon"}`,
		},
		{
			name: "--exp sets exp only: iat is now",
			opts: ClaimOptions{Role: "anon", Now: now, Expiry: exp},
			want: `{"exp":1767276000,"iat":1767268800,"role":"anon"}`,
		},
		{
			name: "--exp ignores valid-for",
			opts: ClaimOptions{Role: "anon", Now: now, ValidFor: 3 * time.Hour, Expiry: exp},
			want: `{"exp":1767276000,"iat":1767268800,"role":"anon"}`,
		},
		{
			name: "--iat: exp is iat plus valid-for",
			opts: ClaimOptions{Role: "anon", Now: now, IssuedAt: now.Add(-time.Hour), ValidFor: 2 * time.Hour},
			want: `{"exp":1767272400,"iat":1767265200,"role":"anon"}`,
		},
		{
			name: "--iat in the future, explicitly",
			opts: ClaimOptions{Role: "anon", Now: now, IssuedAt: exp, ValidFor: time.Hour},
			want: `{"exp":1767279600,"iat":1767276000,"role":"anon"}`,
		},
		{
			name: "--iat and --exp: reproducible",
			opts: ClaimOptions{Role: "anon", Now: now, IssuedAt: time.Unix(4102441200, 0), Expiry: time.Unix(4102444800, 0)},
			want: `{"exp":4102444800,"iat":4102441200,"role":"anon"}`,
		},
		{
			name: "--nbf",
			opts: ClaimOptions{Role: "anon", Now: now, ValidFor: time.Hour, NotBefore: now.Add(time.Minute)},
			want: `{"exp":1767272400,"iat":1767268800,"nbf":1767268860,"role":"anon"}`,
		},
		{
			name: "whole seconds: iat is the second of now, exp floored",
			opts: ClaimOptions{Role: "anon", Now: now.Add(999 * time.Millisecond), ValidFor: 1500 * time.Millisecond},
			want: `{"exp":1767268801,"iat":1767268800,"role":"anon"}`,
		},
		{
			name: "payload merged with the computed claims",
			opts: ClaimOptions{Role: "authenticated", Now: now, ValidFor: time.Minute,
				Payload: map[string]any{"email": "a@b"}},
			want: `{"email":"a@b","exp":1767268860,"iat":1767268800,"is_anonymous":true,"role":"authenticated"}`,
		},
		{
			name: "iss, aud, jti, payload and extra claims side by side",
			opts: ClaimOptions{Role: "anon", Now: now, ValidFor: time.Minute, Issuer: "https://x.test/auth/v1",
				Audience: []string{"authenticated"}, JTI: "id-1",
				Payload: map[string]any{"n": 1},
				Extra:   map[string]any{"m": json.Number("2")}},
			want: `{"aud":"authenticated","exp":1767268860,"iat":1767268800,"iss":"https://x.test/auth/v1","jti":"id-1","m":2,"n":1,"role":"anon"}`,
		},
		{
			name: "several audiences make an array",
			opts: ClaimOptions{Role: "anon", Now: now, ValidFor: time.Minute, Audience: []string{"a", "b"}},
			want: `{"aud":["a","b"],"exp":1767268860,"iat":1767268800,"role":"anon"}`,
		},
		{
			name: "no role: no role claim",
			opts: ClaimOptions{Now: now, ValidFor: time.Minute},
			want: `{"exp":1767268860,"iat":1767268800}`,
		},
		{
			name: "a lifetime of 100 years is the longest",
			opts: ClaimOptions{Role: "anon", Now: now, ValidFor: MaxLifetime},
			want: `{"exp":4920868800,"iat":1767268800,"role":"anon"}`,
		},
		{name: "zero valid-for", opts: ClaimOptions{Role: "anon", Now: now}, err: "valid-for must be at least 1s, not 0s"},
		{name: "negative valid-for", opts: ClaimOptions{Role: "anon", Now: now, ValidFor: -time.Second}, err: "valid-for must be at least 1s, not -1s"},
		{name: "valid-for under a second", opts: ClaimOptions{Role: "anon", Now: now, ValidFor: 999 * time.Millisecond}, err: "valid-for must be at least 1s, not 999ms"},
		{name: "valid-for overflowing", opts: ClaimOptions{Role: "anon", Now: now, ValidFor: 2562047 * time.Hour}, err: "valid-for 2562047h0m0s is longer than 100 years"},
		{name: "lifetime over 100 years by --exp", opts: ClaimOptions{Role: "anon", Now: now, Expiry: now.Add(MaxLifetime + time.Second)}, err: "longer than 100 years"},
		{name: "lifetime that overflows a duration", opts: ClaimOptions{Role: "anon", Now: now, IssuedAt: time.Unix(0, 0), Expiry: MaxTime}, err: "longer than 100 years"},
		{name: "expiry now", opts: ClaimOptions{Role: "anon", Now: now, Expiry: now}, err: "exp 2026-01-01T12:00:00Z is not after iat 2026-01-01T12:00:00Z"},
		{name: "expiry before iat", opts: ClaimOptions{Role: "anon", Now: now, Expiry: now.Add(-time.Hour)}, err: "exp 2026-01-01T11:00:00Z is not after iat 2026-01-01T12:00:00Z"},
		{name: "expiry before an explicit iat", opts: ClaimOptions{Role: "anon", Now: now, IssuedAt: exp, Expiry: exp.Add(-time.Second)}, err: "exp 2026-01-01T13:59:59Z is not after iat 2026-01-01T14:00:00Z"},
		{name: "expiry past", opts: ClaimOptions{Role: "anon", Now: now, IssuedAt: now.Add(-2 * time.Hour), Expiry: now.Add(-time.Hour)}, err: "exp 2026-01-01T11:00:00Z is not in the future"},
		{name: "exp after 9999", opts: ClaimOptions{Role: "anon", Now: now, IssuedAt: MaxTime.Add(-time.Hour), ValidFor: 2 * time.Hour}, err: "exp is after 9999-12-31T23:59:59Z"},
		{name: "iat after 9999", opts: ClaimOptions{Role: "anon", Now: now, IssuedAt: MaxTime.Add(time.Second), ValidFor: time.Hour}, err: "iat is after 9999-12-31T23:59:59Z"},
		{name: "iat before 1970", opts: ClaimOptions{Role: "anon", Now: now, IssuedAt: time.Unix(-1, 0), ValidFor: time.Hour}, err: "iat is before 1970-01-01T00:00:00Z"},
		{name: "nbf at exp", opts: ClaimOptions{Role: "anon", Now: now, ValidFor: time.Hour, NotBefore: now.Add(time.Hour)}, err: "nbf 2026-01-01T13:00:00Z is not before exp 2026-01-01T13:00:00Z"},
		{name: "nbf after 9999", opts: ClaimOptions{Role: "anon", Now: now, ValidFor: time.Hour, NotBefore: MaxTime.Add(time.Hour)}, err: "nbf is after 9999-12-31T23:59:59Z"},
		// Item 9: a claim with its own flag comes from that flag only.
		{name: "exp in the payload", opts: ClaimOptions{Role: "anon", Now: now, ValidFor: time.Minute, Payload: map[string]any{"exp": json.Number("1")}}, err: "exp is set by --exp or --valid-for, not --payload"},
		{name: "exp null by --claim", opts: ClaimOptions{Role: "anon", Now: now, ValidFor: time.Minute, Extra: map[string]any{"exp": nil}}, err: "exp is set by --exp or --valid-for, not --claim"},
		{name: "role by --claim", opts: ClaimOptions{Role: "anon", Now: now, ValidFor: time.Minute, Extra: map[string]any{"role": "service_role"}}, err: "role is set by --role, not --claim"},
		{name: "iat by --claim", opts: ClaimOptions{Role: "anon", Now: now, ValidFor: time.Minute, Extra: map[string]any{"iat": json.Number("1")}}, err: "iat is set by --iat, not --claim"},
		{name: "nbf by --payload", opts: ClaimOptions{Role: "anon", Now: now, ValidFor: time.Minute, Payload: map[string]any{"nbf": json.Number("1")}}, err: "nbf is set by --nbf, not --payload"},
		{name: "sub by --payload", opts: ClaimOptions{Role: "anon", Now: now, ValidFor: time.Minute, Payload: map[string]any{"sub": "x"}}, err: "sub is set by --sub, not --payload"},
		{name: "aud by --claim", opts: ClaimOptions{Role: "anon", Now: now, ValidFor: time.Minute, Extra: map[string]any{"aud": "x"}}, err: "aud is set by --aud, not --claim"},
		{name: "iss by --claim", opts: ClaimOptions{Role: "anon", Now: now, ValidFor: time.Minute, Extra: map[string]any{"iss": "x"}}, err: "iss is set by --iss, not --claim"},
		{name: "jti by --payload", opts: ClaimOptions{Role: "anon", Now: now, ValidFor: time.Minute, Payload: map[string]any{"jti": "x"}}, err: "jti is set by --jti, not --payload"},
		{name: "is_anonymous by --claim", opts: ClaimOptions{Role: "anon", Now: now, ValidFor: time.Minute, Extra: map[string]any{"is_anonymous": false}}, err: "is_anonymous is set by --role and --sub, not --claim"},
		{name: "a flag's claim in other letter case", opts: ClaimOptions{Role: "anon", Now: now, ValidFor: time.Minute, Extra: map[string]any{"EXP": json.Number("1")}}, err: `"EXP" differs only in letter case from exp, which is set by --exp or --valid-for, not --claim`},
		{name: "a flag's claim in other letter case in the payload", opts: ClaimOptions{Role: "anon", Now: now, ValidFor: time.Minute, Payload: map[string]any{"Role": "x"}}, err: `"Role" differs only in letter case from role, which is set by --role, not --payload`},
		{name: "one claim by --payload and --claim", opts: ClaimOptions{Role: "anon", Now: now, ValidFor: time.Minute, Payload: map[string]any{"email": "a"}, Extra: map[string]any{"email": "b"}}, err: `claim "email" is given by both --payload and --claim`},
		{name: "--payload and --claim differing in letter case", opts: ClaimOptions{Role: "anon", Now: now, ValidFor: time.Minute, Payload: map[string]any{"email": "a"}, Extra: map[string]any{"Email": "b"}}, err: `claims "email" (--payload) and "Email" (--claim) differ only in letter case`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := BuildClaims(tt.opts)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := jsonMarshal(t, c); got != tt.want {
				t.Errorf("\n got %s\nwant %s", got, tt.want)
			}
			if _, ok := c["iat"].(int64); !ok {
				t.Errorf("iat is %T, want int64 whole seconds", c["iat"])
			}
		})
	}
}

func TestBuildClaimsDoesNotAliasAudience(t *testing.T) {
	aud := []string{"a", "b"}
	c, err := BuildClaims(ClaimOptions{Role: "anon", Now: time.Unix(0, 0), ValidFor: time.Minute, Audience: aud})
	if err != nil {
		t.Fatal(err)
	}
	aud[0] = "changed"
	if c["aud"].([]string)[0] != "a" {
		t.Error("claims share the caller's audience slice")
	}
}

func TestParseClaims(t *testing.T) {
	tests := []struct {
		in   string
		want string // encoding/json of the result
		err  string
	}{
		{in: `{}`, want: `{}`},
		{in: ` {"sub":"u","n":12345678901234567890} ` + "\n", want: `{"n":12345678901234567890,"sub":"u"}`},
		{in: `{"f":1.50}`, want: `{"f":1.50}`}, // json.Number keeps the text
		{in: `{"a":{"b":[1,{"c":null}]}}`, want: `{"a":{"b":[1,{"c":null}]}}`},
		{in: ``, err: "not valid JSON"},
		{in: `{bad`, err: "not valid JSON"},
		{in: `[1,2]`, err: "not a JSON object"},
		{in: `"s"`, err: "not a JSON object"},
		{in: `null`, err: "not a JSON object"},
		{in: `{} {}`, err: "unexpected data after the JSON object"},
		{in: `{}x`, err: "unexpected data after the JSON object"},
		{in: `{"role":"a","role":"b"}`, err: `duplicate member "role"`},
		{in: `{"a":{"x":1,"x":2}}`, err: `duplicate member "x"`},
		{in: `{"a":1,"\u0061":2}`, err: `duplicate member "a"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			m, err := ParseClaims([]byte(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				if tt.err == "not a JSON object" && !errors.Is(err, ErrClaimsNotObject) {
					t.Errorf("err %v is not ErrClaimsNotObject", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := jsonMarshal(t, m); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// FuzzParseClaims: whatever ParseClaims accepts is one strict JSON object
// that MarshalClaims can encode and that reads back to the same claims.
func FuzzParseClaims(f *testing.F) {
	for _, s := range seedClaims(f) {
		f.Add(s)
	}
	f.Add([]byte(`{"a":1,"a":2}`))
	f.Add([]byte(`[{}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseClaims(data)
		if err != nil {
			return
		}
		if strictjson.CheckObject(data) != nil {
			t.Fatalf("accepted input strictjson refuses: %q", data)
		}
		out, err := MarshalClaims(m)
		if err != nil {
			t.Fatalf("cannot encode parsed claims: %v", err)
		}
		again, err := ParseClaims(out)
		if err != nil {
			t.Fatalf("cannot parse own output %s: %v", out, err)
		}
		if out2, _ := MarshalClaims(again); !bytes.Equal(out, out2) {
			t.Fatalf("not stable:\n%s\n%s", out, out2)
		}
	})
}

func TestParseClaimFlag(t *testing.T) {
	tests := []struct {
		in   string
		key  string
		want string // encoding/json of the value
		err  bool
	}{
		{in: "email=dev@example.com", key: "email", want: `"dev@example.com"`},
		{in: "n=42", key: "n", want: `42`},
		{in: "big=12345678901234567890", key: "big", want: `12345678901234567890`},
		{in: "ok=true", key: "ok", want: `true`},
		{in: "nothing=null", key: "nothing", want: `null`},
		{in: `s="quoted"`, key: "s", want: `"quoted"`},
		{in: `o={"a":[1]}`, key: "o", want: `{"a":[1]}`},
		{in: "e=", key: "e", want: `""`},
		{in: "two=1 2", key: "two", want: `"1 2"`},
		{in: "trail=true x", key: "trail", want: `"true x"`},
		{in: "eq=a=b", key: "eq", want: `"a=b"`},
		{in: "bad={", key: "bad", want: `"{"`},
		{in: "novalue", err: true},
		{in: "=v", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			k, v, err := ParseClaimFlag(tt.in)
			if tt.err {
				if err == nil {
					t.Fatalf("got %q=%v, want an error", k, v)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k != tt.key {
				t.Errorf("key %q, want %q", k, tt.key)
			}
			if got := jsonMarshal(t, v); got != tt.want {
				t.Errorf("value %s, want %s", got, tt.want)
			}
		})
	}
}

// FuzzParseClaimFlag: a key=value flag never panics, and its value always
// encodes.
func FuzzParseClaimFlag(f *testing.F) {
	for _, s := range []string{"a=1", "a=b", "a={\"x\":1}", "=", "a", "a=[1,", "a=1e400", "a=\"\\ud800\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, v, err := ParseClaimFlag(s)
		if err != nil {
			return
		}
		if k == "" || !strings.HasPrefix(s, k+"=") {
			t.Fatalf("key %q from %q", k, s)
		}
		if _, err := MarshalClaims(map[string]any{k: v}); err != nil {
			t.Fatalf("value %#v from %q does not encode: %v", v, s, err)
		}
	})
}

func TestApplyAnonymousRule(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{`{"role":"authenticated"}`, `{"is_anonymous":true,"role":"authenticated"}`},
		{`{"role":"AUTHENTICATED","sub":""}`, `{"is_anonymous":true,"role":"AUTHENTICATED","sub":""}`},
		{`{"role":"authenticated","sub":null}`, `{"is_anonymous":true,"role":"authenticated","sub":null}`},
		{`{"role":"authenticated","sub":"u","is_anonymous":true}`, `{"role":"authenticated","sub":"u"}`},
		{`{"role":"authenticated","sub":7}`, `{"role":"authenticated","sub":7}`},
		{`{"role":"anon","is_anonymous":true}`, `{"role":"anon"}`},
		{`{"role":["authenticated"]}`, `{"role":["authenticated"]}`},
		{`{}`, `{}`},
	}
	for _, tt := range tests {
		c, err := ParseClaims([]byte(tt.in))
		if err != nil {
			t.Fatal(err)
		}
		ApplyAnonymousRule(c)
		if got := jsonMarshal(t, c); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.in, got, tt.want)
		}
	}
}
