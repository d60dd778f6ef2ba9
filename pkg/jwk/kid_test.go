package jwk

import (
	"errors"
	"strings"
	"testing"
)

// TestWithDefaultKID: a kid-less asymmetric key gets its RFC 7638
// thumbprint as the kid, the same for the private key and its public half;
// a key with a kid and a shared secret are left as they are.
func TestWithDefaultKID(t *testing.T) {
	for _, alg := range []Algorithm{ES256, RS256, EdDSA} {
		k, err := Generate(alg, GenerateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		k.KID = ""
		got, changed, err := k.WithDefaultKID()
		if err != nil || !changed {
			t.Fatalf("%s: changed %v, err %v", alg, changed, err)
		}
		pub, _ := k.Public()
		tp, _ := pub.Thumbprint()
		if got.KID != tp || len(tp) != 43 {
			t.Errorf("%s: kid %q, want the thumbprint %q", alg, got.KID, tp)
		}
		if k.KID != "" {
			t.Errorf("%s: the original key was changed", alg)
		}
		if again, changed, _ := got.WithDefaultKID(); changed || again.KID != tp {
			t.Errorf("%s: a key with a kid changed", alg)
		}
	}
	hs, _ := Generate(HS256, GenerateOptions{})
	hs.KID = ""
	if got, changed, _ := hs.WithDefaultKID(); changed || got.KID != "" {
		t.Error("a shared secret got a kid: kid-less HS256 tokens mean the legacy secret")
	}
}

// TestCheckKID: kids are printable ASCII without spaces.
func TestCheckKID(t *testing.T) {
	for _, ok := range []string{"", "5b8e4f3a-9c7d-4e21-8f6a-2d1c0b9e8a77", "key-2026_11.a", "AbC~!$%&*+/=?@^|"} {
		if err := CheckKID(ok); err != nil {
			t.Errorf("CheckKID(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"my key", "tab\there", "new\nline", "esc\x1b[2J", "ünï", "\u202ekid", "a\x7f"} {
		if err := CheckKID(bad); !errors.Is(err, ErrBadKID) {
			t.Errorf("CheckKID(%q) = %v, want ErrBadKID", bad, err)
		}
	}
	// The message names the character, not a byte of its UTF-8.
	if err := CheckKID("ключ"); err == nil || !strings.Contains(err.Error(), "contains 'к'") {
		t.Errorf("CheckKID(ключ) = %v", err)
	}
}
