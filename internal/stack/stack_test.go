package stack

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/dotenv"
	jwxjwk "github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/keyctl/keyctl/pkg/jwk"
	"github.com/keyctl/keyctl/pkg/keyring"
)

var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func st(d time.Duration) keyring.Stamp { return keyring.Stamp{At: t0.Add(d), By: "test"} }

func gen(t *testing.T, alg jwk.Algorithm, kid string) *jwk.Key {
	t.Helper()
	k, err := jwk.Generate(alg, jwk.GenerateOptions{KID: kid})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// mixed is a keyring in the middle of leaving the legacy secret: the
// legacy secret previously used, an ES256 key in use, an RS256 standby
// key, one revoked and one deleted key.
func mixed(t *testing.T) *keyring.Keyring {
	t.Helper()
	kr := &keyring.Keyring{}
	secret := gen(t, jwk.HS256, "legacy")
	if _, _, err := kr.MigrateLegacy(secret, gen(t, jwk.ES256, "es"), st(0), keyring.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := kr.Rotate("es", st(time.Hour), keyring.Options{}); err != nil {
		t.Fatal(err)
	}
	for _, kid := range []string{"rs", "gone", "dead"} {
		if _, err := kr.Create(gen(t, jwk.RS256, kid), st(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := kr.Revoke("gone", st(3*time.Hour), keyring.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Revoke("dead", st(3*time.Hour), keyring.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Delete("dead", st(4*time.Hour), keyring.Options{}); err != nil {
		t.Fatal(err)
	}
	return kr
}

func TestBuild(t *testing.T) {
	x, err := Build(mixed(t))
	if err != nil {
		t.Fatal(err)
	}
	var kids, ops []string
	for _, k := range x.Auth {
		kids = append(kids, k.KID)
		ops = append(ops, strings.Join(k.KeyOps, "+"))
	}
	if got := strings.Join(kids, ","); got != "es,legacy,rs" {
		t.Fatalf("GOTRUE_JWT_KEYS kids %s: the key in use first, then the trusted ones", got)
	}
	if got := strings.Join(ops, ","); got != "sign+verify,verify,verify" {
		t.Fatalf("key_ops %s", got)
	}
	if !x.Legacy || x.Signer != "es" {
		t.Fatalf("legacy %v signer %s", x.Legacy, x.Signer)
	}
	if got := x.LeftOutWords(); got != "dead (deleted), gone (revoked)" {
		t.Fatalf("left out: %s", got)
	}
	body, err := x.JWKSJSON()
	if err != nil {
		t.Fatal(err)
	}
	var set struct{ Keys []map[string]any }
	json.Unmarshal(body, &set)
	if len(set.Keys) != 3 {
		t.Fatalf("services JWKS: %s", body)
	}
	for _, k := range set.Keys {
		switch k["kty"] {
		case "oct":
			if _, hasKID := k["kid"]; hasKID || k["k"] == nil {
				t.Fatalf("the legacy secret must match kid-less tokens: %v", k)
			}
		default:
			for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
				if _, ok := k[private]; ok {
					t.Fatalf("a private member in the services JWKS: %v", k)
				}
			}
		}
	}
}

// TestAuthLoadRules reads GOTRUE_JWT_KEYS with lestrrat-go/jwx v2, the
// library Auth loads it with, and applies Auth's rules: every key valid,
// a kid on each, exactly one with "sign".
func TestAuthLoadRules(t *testing.T) {
	x, err := Build(mixed(t))
	if err != nil {
		t.Fatal(err)
	}
	data, err := x.AuthJSON()
	if err != nil {
		t.Fatal(err)
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	signers := 0
	for _, r := range raw {
		k, err := jwxjwk.ParseKey(r)
		if err != nil {
			t.Fatalf("jwx refuses %s: %v", r, err)
		}
		if err := k.Validate(); err != nil {
			t.Fatalf("jwx Validate: %v", err)
		}
		if k.KeyID() == "" {
			t.Fatal("a key without kid")
		}
		for _, op := range k.KeyOps() {
			if op == jwxjwk.KeyOpSign {
				signers++
			}
		}
	}
	if signers != 1 {
		t.Fatalf("%d signing keys: Auth starts with exactly one", signers)
	}
	// The services' JWKS parses as a set too.
	body, _ := x.JWKSJSON()
	if _, err := jwxjwk.Parse(body); err != nil {
		t.Fatalf("jwx refuses the services JWKS: %v", err)
	}
}

func TestBuildRefusesNoSigner(t *testing.T) {
	kr := &keyring.Keyring{}
	kr.Create(gen(t, jwk.ES256, "standby"), st(0))
	if _, err := Build(kr); err != ErrNoSigner {
		t.Fatalf("err = %v", err)
	}
}

// trickyValues are what an env value must carry through every parser.
var trickyValues = []string{
	`{"keys":[{"kty":"EC","kid":"a","x":"b"}]}`,
	`[{"k":"a$b${HOME}$(id)` + "`id`" + `"}]`,
	`# not a comment " \ \n \t \\ \" end`,
	`value with spaces and = signs == and #hash`,
	`inner \ backslash \\ and \n, then an end`,
	``,
}

// TestEnvFileReadBack writes values with FormatEnv and reads them back with
// docker compose's own dotenv parser (compose-go) and with bash's
// `set -a; . file`: both must see the value byte for byte.
func TestEnvFileReadBack(t *testing.T) {
	var vars []Var
	for i, v := range trickyValues {
		vars = append(vars, Var{Name: "V" + string(rune('A'+i)), Value: v})
	}
	x, err := Build(mixed(t))
	if err != nil {
		t.Fatal(err)
	}
	stackVars, err := x.Variables()
	if err != nil {
		t.Fatal(err)
	}
	vars = append(vars, stackVars...)
	data, err := FormatEnv([]string{"written by a test"}, vars)
	if err != nil {
		t.Fatal(err)
	}
	got, err := dotenv.ParseWithLookup(bytes.NewReader(data), func(string) (string, bool) { return "INTERPOLATED", true })
	if err != nil {
		t.Fatalf("compose's dotenv: %v", err)
	}
	for _, v := range vars {
		if got[v.Name] != v.Value {
			t.Fatalf("compose reads %s as %q, want %q", v.Name, got[v.Name], v.Value)
		}
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	file := filepath.Join(t.TempDir(), "stack.env")
	os.WriteFile(file, data, 0o600)
	for _, v := range vars {
		out, err := exec.Command(bash, "-c", `set -a; . "$1"; printf %s "${!2}"`, "bash", file, v.Name).Output()
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != v.Value {
			t.Fatalf("bash reads %s as %q, want %q", v.Name, out, v.Value)
		}
	}
}

func TestQuoteValueRefuses(t *testing.T) {
	for _, v := range []string{"it's", "two\nlines", "cr\r", "nul\x00", `ends with \`} {
		if _, err := QuoteValue(v); err == nil {
			t.Fatalf("%q was quoted", v)
		}
	}
}

func TestEnvFileSetKeepsOtherLines(t *testing.T) {
	in := "# my stack\r\nPOSTGRES_PASSWORD=\"s3cr3t # not a comment\"\n\nexport JWT_SECRET=old\nweird line without equals\nANON_KEY=old" // no final newline
	f := ParseEnvFile([]byte(in))
	if v, _ := f.Value("JWT_SECRET"); v != "old" {
		t.Fatalf("JWT_SECRET = %q", v)
	}
	if err := f.Set("JWT_SECRET", "new"); err != nil {
		t.Fatal(err)
	}
	if err := f.Set("ANON_KEY", "a.b.c"); err != nil {
		t.Fatal(err)
	}
	if err := f.Set("SUPABASE_JWKS", `{"keys":[]}`); err != nil {
		t.Fatal(err)
	}
	want := "# my stack\r\nPOSTGRES_PASSWORD=\"s3cr3t # not a comment\"\n\nexport JWT_SECRET='new'\nweird line without equals\nANON_KEY='a.b.c'\nSUPABASE_JWKS='{\"keys\":[]}'\n"
	if got := string(f.Bytes()); got != want {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
}

// FuzzEnvFile: editing never changes a line it does not set, and a set
// value reads back through compose's parser.
func FuzzEnvFile(f *testing.F) {
	f.Add([]byte("A=1\n# c\nB='x'\n"), "B", `{"k":"v"}`)
	f.Add([]byte("export X=\"y\"\r\n\n"), "X", "")
	f.Add([]byte(""), "NEW", "v a l")
	f.Fuzz(func(t *testing.T, data []byte, name, value string) {
		ef := ParseEnvFile(data)
		if !bytes.Equal(ef.Bytes(), data) {
			t.Fatalf("a parse and print changed the file")
		}
		before := strings.SplitAfter(string(data), "\n")
		if err := ef.Set(name, value); err != nil {
			return
		}
		after := strings.SplitAfter(string(ef.Bytes()), "\n")
		for i := range before {
			if i < len(after) && before[i] != "" && before[i] != after[i] && strings.TrimRight(before[i], "\n") != strings.TrimRight(after[i], "\n") {
				if n, ok := assigned(before[i]); !ok || n != name {
					t.Fatalf("Set(%q) changed a line that does not assign it: %q -> %q", name, before[i], after[i])
				}
			}
		}
		want, _ := QuoteValue(value)
		if v, ok := ef.Value(name); !ok || v != want {
			t.Fatalf("Value(%s) = %q, %v", name, v, ok)
		}
	})
}

// A name assigned twice gets the new value on every line: a shell and
// compose take the last one, which must not stay stale.
func TestEnvFileSetEveryAssignment(t *testing.T) {
	f := ParseEnvFile([]byte("X='old1'\nY=1\nexport X='old2'\n"))
	if v, _ := f.Value("X"); v != "'old2'" {
		t.Fatalf("Value = %q, want the last assignment", v)
	}
	if err := f.Set("X", "new"); err != nil {
		t.Fatal(err)
	}
	if got, want := string(f.Bytes()), "X='new'\nY=1\nexport X='new'\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// A trusted HS256 key that is not the legacy secret: Auth may sign with
// it, so the services' JWKS must carry it (with its kid) or they reject
// every token Auth issues.
func TestBuildSharedSecret(t *testing.T) {
	kr := &keyring.Keyring{}
	for _, k := range []*jwk.Key{gen(t, jwk.ES256, "es"), gen(t, jwk.HS256, "hs")} {
		if _, err := kr.Create(k, st(0)); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := kr.Rotate("hs", st(time.Hour), keyring.Options{}); err != nil {
		t.Fatal(err)
	}
	x, err := Build(kr)
	if err != nil {
		t.Fatal(err)
	}
	if x.Legacy || strings.Join(x.Shared, ",") != "hs" || !x.HoldsSecret() {
		t.Fatalf("legacy %v shared %v", x.Legacy, x.Shared)
	}
	var found bool
	for _, k := range x.JWKS.Keys {
		if k.KID == "hs" {
			found = k.IsSymmetric() && k.Alg == jwk.HS256 && strings.Join(k.KeyOps, ",") == jwk.OpVerify
		}
	}
	if !found || len(x.JWKS.Keys) != 2 {
		t.Fatalf("services JWKS lacks hs as a verify-only oct key: %d keys", len(x.JWKS.Keys))
	}
}

func TestLooksLikeEnv(t *testing.T) {
	for in, want := range map[string]bool{
		"":                                  true,
		"# only a comment\n\n":              true,
		"A=1\n":                             true,
		"  export B_2 = 'x'\n# c\n":         true,
		"# head\nPOSTGRES_PASSWORD=\"x\"\n": true,
		"[\n  {\"kty\": \"EC\"}\n]\n":       false,
		"{\"keys\":[]}":                     false,
		"-----BEGIN PRIVATE KEY-----\nMI\n": false,
		"A=1\x00":                           false,
		"not an assignment\nA=1\n":          false,
	} {
		if got := LooksLikeEnv([]byte(in)); got != want {
			t.Errorf("LooksLikeEnv(%q) = %v, want %v", in, got, want)
		}
	}
}
