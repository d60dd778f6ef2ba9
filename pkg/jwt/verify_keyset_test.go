package jwt

import (
	"errors"
	"testing"

	"github.com/keyctl/keyctl/pkg/jwk"
)

// TestKidlessKeyInASet: in a set (a JWKS file or URL, a keys file, a
// keyring), a token's kid must name a key (RFC 7517 section 4.5: the kid
// matches a key). A kid-less key is not "any kid": a token naming a kid
// the set lacks is an unknown kid, which for a JWKS URL triggers the
// rate-limited refetch, even when the set holds one kid-less key.
func TestKidlessKeyInASet(t *testing.T) {
	k := getKeys(t)
	es := signer(t, k.es)
	good := claimsJSON("")
	pub := kidlessPublic(t, k.es)
	named := forge(hdr("ES256", "whatever"), good, es)
	kidless := forge(hdr("ES256", ""), good, es)

	set := newVerifier(t, trusted(pub), Policy{})
	rejected(t, set, named, map[Check]string{CheckKIDUnknown: `kid "whatever" is not among the trusted keys (none has a kid)`})
	_, err := set.Verify(named)
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.UnknownKID != "whatever" {
		t.Fatalf("UnknownKID not set for a refetch: %v", err)
	}
	// A kid-less token still means the one key (docs/verification.md,
	// "Which key a token means", 2).
	accepted(t, set, kidless)

	// The keyring's legacy secret alone: kid-less tokens only.
	hs := signer(t, k.hs)
	secret := *k.hs
	secret.KID = ""
	ring := newVerifier(t, []TrustedKey{{Key: &secret, State: StateInUse, Legacy: true}}, Policy{})
	rejected(t, ring, forge(hdr("HS256", "hs"), good, hs), map[Check]string{CheckKIDUnknown: `kid "hs" is not among the trusted keys (none has a kid)`})
	accepted(t, ring, forge(hdr("HS256", ""), good, hs))
}

// newSingleVerifier is newVerifier for the one key the user chose.
func newSingleVerifier(t testing.TB, tk TrustedKey, p Policy) *Verifier {
	t.Helper()
	ks, err := NewSingleKeySet(tk)
	return verifierOn(t, ks, err, p)
}

// TestSingleKeySet: the key --key names. Without a kid it verifies tokens
// whatever kid they carry; with one, a token naming another kid is
// unknown, as in any set; kid-less tokens mean it either way.
func TestSingleKeySet(t *testing.T) {
	k := getKeys(t)
	es := signer(t, k.es)
	good := claimsJSON("")
	pub := kidlessPublic(t, k.es)
	one := newSingleVerifier(t, TrustedKey{Key: pub}, Policy{})
	for _, kid := range []string{"", "whatever", "es"} {
		got := accepted(t, one, forge(hdr("ES256", kid), good, es))
		if got.KID != kid {
			t.Errorf("KID %q, want %q", got.KID, kid)
		}
	}
	// It is still the key's own signature that counts.
	rejected(t, one, forge(hdr("ES256", "whatever"), good, signer(t, k.es2)), map[Check]string{CheckSignature: "does not verify"})

	named := newSingleVerifier(t, TrustedKey{Key: k.es}, Policy{})
	accepted(t, named, forge(hdr("ES256", "es"), good, es))
	accepted(t, named, forge(hdr("ES256", ""), good, es))
	rejected(t, named, forge(hdr("ES256", "other"), good, es), map[Check]string{CheckKIDUnknown: `the only kid is "es"`})

	// A key NewKeySet refuses, NewSingleKeySet refuses too.
	if _, err := NewSingleKeySet(TrustedKey{}); err == nil {
		t.Error("a key without material accepted")
	}
}

// kidlessPublic is k's public key without its kid.
func kidlessPublic(t testing.TB, k *jwk.Key) *jwk.Key {
	t.Helper()
	pub, err := k.Public()
	if err != nil {
		t.Fatal(err)
	}
	pub.KID = ""
	return pub
}
