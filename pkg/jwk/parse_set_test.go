package jwk

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

// keycloakSet is a JWKS as Keycloak and other issuers publish them: one
// ES256 key keyctl can use beside an encryption key, P-384 and P-521 keys,
// RSA keys for PS256 and RS384, an unknown alg, an X25519 key and a key
// type keyctl does not know.
func keycloakSet(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/keycloak_jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestParseSetSkipsUnusableKeys: RFC 7517 section 5, keys keyctl cannot use
// are left out, each with its kid and the reason; the usable key stays.
func TestParseSetSkipsUnusableKeys(t *testing.T) {
	set, err := ParseSet(keycloakSet(t), ParseSetOptions{})
	if err != nil {
		t.Fatalf("ParseSet: %v", err)
	}
	if len(set.Keys) != 1 || set.Keys[0].KID != "kc-es256" {
		t.Fatalf("keys = %v, want kc-es256 alone", set.Keys)
	}
	want := []struct{ kid, reason string }{
		{"kc-enc-1", `use "enc": not a signature key`},
		{"kc-ps256", `alg "PS256": keyctl verifies RS256 with RSA keys`},
		{"kc-es384", `curve "P-384": keyctl verifies ES256 on P-256 only`},
		{"kc-es512", `curve "P-521": keyctl verifies ES256 on P-256 only`},
		{"kc-rs384", `alg "RS384": keyctl verifies RS256 with RSA keys`},
		{"kc-unknown-alg", `alg "ES999": keyctl verifies ES256 with EC keys`},
		{"kc-x25519", `curve "X25519": keyctl verifies EdDSA on Ed25519 only`},
		{"kc-pq", `key type "AKP" is not supported`},
	}
	if len(set.SkippedKeys) != len(want) || set.Skipped != len(want) {
		t.Fatalf("skipped %d (%+v), want %d", set.Skipped, set.SkippedKeys, len(want))
	}
	for i, w := range want {
		s := set.SkippedKeys[i]
		if s.Index != i || s.KID != w.kid || s.Reason != w.reason {
			t.Errorf("skipped[%d] = %+v, want index %d kid %q reason %q", i, s, i, w.kid, w.reason)
		}
	}
}

// TestParseSetStillRefuses: what is dangerous refuses the whole set, even
// on a key that would be skipped, and the error says which rule.
func TestParseSetStillRefuses(t *testing.T) {
	var doc struct{ Keys []map[string]any }
	if err := json.Unmarshal(keycloakSet(t), &doc); err != nil {
		t.Fatal(err)
	}
	with := func(change func(keys []map[string]any) []map[string]any) []byte {
		var d struct{ Keys []map[string]any }
		_ = json.Unmarshal(keycloakSet(t), &d)
		b, _ := json.Marshal(map[string]any{"keys": change(d.Keys)})
		return b
	}
	for _, c := range []struct {
		name string
		data []byte
		is   error
		want string
	}{
		{"private member on a skipped key", with(func(k []map[string]any) []map[string]any {
			k[2]["d"] = "AAAA"
			return k
		}), ErrPrivateInSet, `key 2 (kid "kc-es384"): member "d": a JWKS must not carry private keys`},
		{"oct key for encryption", with(func(k []map[string]any) []map[string]any {
			return append(k, map[string]any{"kid": "s", "kty": "oct", "use": "enc", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"})
		}), ErrPrivateInSet, `member "k": a JWKS must not carry shared secrets`},
		{"duplicate kid among usable keys", with(func(k []map[string]any) []map[string]any {
			d := map[string]any{}
			for n, v := range k[8] {
				d[n] = v
			}
			return append(k, d)
		}), ErrDuplicateKID, `key 9 (kid "kc-es256"): member "kid": duplicate kid`},
		{"malformed usable key", with(func(k []map[string]any) []map[string]any {
			k[8]["x"] = "AA"
			return k
		}), nil, `member "x": 1 bytes, want exactly 32`},
		{"control character in a skipped key's kid", with(func(k []map[string]any) []map[string]any {
			k[0]["kid"] = "a\x1bb"
			return k
		}), ErrBadKID, `invalid kid`},
	} {
		_, err := ParseSet(c.data, ParseSetOptions{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
			continue
		}
		if c.is != nil && !errors.Is(err, c.is) {
			t.Errorf("%s: %v is not %v", c.name, err, c.is)
		}
	}
	// A skipped key may share its kid with a usable one: only the usable
	// key is trusted, so a token's kid still names one key.
	shared := with(func(k []map[string]any) []map[string]any {
		k[0]["kid"] = "kc-es256"
		return k
	})
	if set, err := ParseSet(shared, ParseSetOptions{}); err != nil || len(set.Keys) != 1 {
		t.Errorf("kid shared with a skipped key: %v", err)
	}
}

// TestParseSetSingleJWK: a single JWK given as a set says so.
func TestParseSetSingleJWK(t *testing.T) {
	_, err := ParseSet([]byte(`{"kty":"EC","crv":"P-256","x":"AETSBTwx8wQWzfq6u93QjUBtuto7AKR7QQrea8MQZJs","y":"zrijjcKh6RiQ8X-EQq5v2HoXEf8vUo_wHyl5uAnEjjs"}`), ParseSetOptions{})
	if !errors.Is(err, ErrSingleJWK) {
		t.Errorf("err = %v, want ErrSingleJWK", err)
	}
	_, err = ParseSet([]byte(`[{"kty":"EC"}]`), ParseSetOptions{})
	if !errors.Is(err, ErrKeyArray) {
		t.Errorf("err = %v, want ErrKeyArray", err)
	}
}
