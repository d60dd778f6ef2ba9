package pgstore

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// sealWithCount wraps a data key under passphrase with p2c iterations, as
// someone who knows the passphrase could write it to the keyrings row.
func sealWithCount(t *testing.T, passphrase string, p2c int) string {
	t.Helper()
	wrapped, err := encrypt(jose.Recipient{Algorithm: jose.PBES2_HS256_A128KW, Key: []byte(passphrase), PBES2Count: p2c},
		"default", dataKeyType, make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	return wrapped
}

// headerP2C rewrites the p2c of a compact JWE without deriving anything.
func headerP2C(t *testing.T, wrapped string, p2c int) string {
	t.Helper()
	parts := strings.Split(wrapped, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	h["p2c"] = p2c
	raw, _ = json.Marshal(h)
	parts[0] = base64.RawURLEncoding.EncodeToString(raw)
	return strings.Join(parts, ".")
}

// TestSealIterationBounds: a passphrase seal re-wrapped with one iteration
// under the right passphrase, or asking for 20,000,000, is refused with its
// own message before the passphrase is asked or anything derived.
func TestSealIterationBounds(t *testing.T) {
	const passphrase = "correct horse"
	for _, tc := range []struct {
		wrapped string
		want    string
	}{
		{sealWithCount(t, passphrase, 1), "encryption header asks for only 1 PBKDF2 iterations; keyctl writes 1000 and refuses fewer: the seal may have been tampered with"},
		{headerP2C(t, sealWithCount(t, passphrase, 1000), 20_000_000), "encryption header asks for 20000000 PBKDF2 iterations; keyctl refuses more than 10000000 (deriving the key would stall keyctl: a denial of service)"},
		{headerP2C(t, sealWithCount(t, passphrase, 1000), 2_000_000), "encryption header asks for 2000000 PBKDF2 iterations; keyctl writes 1000 and derives at most 1000000: the seal may have been tampered with"},
	} {
		asked := 0
		s := &sealer{keyring: "default", scheme: SchemePassphrase, wrapped: tc.wrapped,
			secrets: Secrets{Passphrase: func() ([]byte, error) { asked++; return []byte(passphrase), nil }}}
		_, err := s.unlock()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("unlock: %v\nwant %q", err, tc.want)
		}
		if asked != 0 {
			t.Errorf("the passphrase was asked before the header was refused")
		}
	}
	// Within bounds, it opens.
	s := &sealer{keyring: "default", scheme: SchemePassphrase, wrapped: sealWithCount(t, passphrase, 1000), secrets: Secrets{Passphrase: pass(passphrase)}}
	if _, err := s.unlock(); err != nil {
		t.Fatal(err)
	}
}
