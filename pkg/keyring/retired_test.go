package keyring

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keyctl/keyctl/pkg/jwk"
)

func init() {
	// See secretCheckIterations; lifecycle_tombstone.txtar checks 600000.
	secretCheckIterations = minSecretCheckIterations
}

func thumbprintOf(t *testing.T, k *jwk.Key) string {
	t.Helper()
	tp, err := k.Thumbprint()
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

// TestTombstoneKeepsThumbprint: deleting a key destroys its material but
// keeps its RFC 7638 thumbprint (of the public key); a shared secret's
// tombstone keeps a salted PBKDF2 check value instead, never the oct key's
// thumbprint (an unsalted SHA-256 of the secret).
func TestTombstoneKeepsThumbprint(t *testing.T) {
	for _, alg := range []jwk.Algorithm{jwk.ES256, jwk.RS256, jwk.EdDSA, jwk.HS256} {
		kr := &Keyring{}
		k := genKey(t, alg, "k")
		if _, err := kr.Create(k, stamp(0)); err != nil {
			t.Fatal(err)
		}
		e, err := kr.Delete("k", stamp(time.Minute), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if e.Material != nil {
			t.Errorf("%s tombstone keeps its material", alg)
		}
		if alg == jwk.HS256 {
			if e.Thumbprint != "" || e.SecretCheck == "" || strings.Contains(e.SecretCheck, thumbprintOf(t, k)) {
				t.Errorf("%s tombstone: thumbprint %q, secret check %q; want no thumbprint and a check value", alg, e.Thumbprint, e.SecretCheck)
			}
			if err := ParseSecretCheck(e.SecretCheck); err != nil || !strings.HasPrefix(e.SecretCheck, fmt.Sprintf("pbkdf2-sha256$%d$", secretCheckIterations)) {
				t.Errorf("secret check %q: %v", e.SecretCheck, err)
			}
			continue
		}
		if e.Thumbprint != thumbprintOf(t, k) || e.Thumbprint == "" || e.SecretCheck != "" {
			t.Errorf("%s tombstone: thumbprint %q, want %q", alg, e.Thumbprint, thumbprintOf(t, k))
		}
	}
}

// TestSecretCheck: a check value matches its secret only, two checks of
// one secret differ (salted), and malformed values are refused.
func TestSecretCheck(t *testing.T) {
	secret := []byte("throwaway-secret-for-a-test-only-0123456789")
	a, err := NewSecretCheck(secret)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewSecretCheck(secret)
	if a == b {
		t.Error("two check values of one secret are equal: not salted")
	}
	for _, c := range []string{a, b} {
		if ok, err := matchSecretCheck(c, secret); !ok || err != nil {
			t.Errorf("%q does not match its secret: %v", c, err)
		}
		other := append([]byte(nil), secret...)
		other[len(other)-1] ^= 1
		if ok, err := matchSecretCheck(c, other); ok || err != nil {
			t.Errorf("%q matches another secret: %v", c, err)
		}
	}
	salt, key := "AAAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	for _, bad := range []string{
		"",
		"pbkdf2-sha256$600000$" + salt,
		"pbkdf2-sha1$600000$" + salt + "$" + key,
		"pbkdf2-sha256$99999$" + salt + "$" + key,        // too few iterations
		"pbkdf2-sha256$10000001$" + salt + "$" + key,     // a crafted keyring hangs imports
		"pbkdf2-sha256$0600000$" + salt + "$" + key,      // not canonical
		"pbkdf2-sha256$+600000$" + salt + "$" + key,      // not canonical
		"pbkdf2-sha256$600000$AAAA$" + key,               // short salt
		"pbkdf2-sha256$600000$" + salt + "$AAAA",         // short key
		"pbkdf2-sha256$600000$" + salt + "$" + key + "=", // padded
		"pbkdf2-sha256$600000$" + salt + "$" + key + "$",
	} {
		if err := ParseSecretCheck(bad); err == nil {
			t.Errorf("ParseSecretCheck(%q) = nil, want an error", bad)
		}
	}
	if err := ParseSecretCheck("pbkdf2-sha256$600000$" + salt + "$" + key); err != nil {
		t.Errorf("a well-formed value: %v", err)
	}
}

func FuzzParseSecretCheck(f *testing.F) {
	f.Add("pbkdf2-sha256$600000$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("pbkdf2-sha256$1$$")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseSecretCheck(s)
		if err != nil {
			return
		}
		if c.iter < minSecretCheckIterations || c.iter > maxSecretCheckIterations || len(c.key) != 32 || len(c.salt) < 16 {
			t.Fatalf("%q accepted as %+v", s, c)
		}
		again := fmt.Sprintf("%s$%d$%s$%s", secretCheckScheme, c.iter, b64url.EncodeToString(c.salt), b64url.EncodeToString(c.key))
		if again != s {
			t.Fatalf("%q accepted, but it is written back as %q", s, again)
		}
	})
}

// retiredKeyring holds "gone" (deleted) and "old" (revoked), each with
// material the test imports again under a new kid.
func retiredKeyring(t *testing.T, alg jwk.Algorithm) (kr *Keyring, gone, old *jwk.Key) {
	t.Helper()
	kr = &Keyring{}
	gone, old = genKey(t, alg, "gone"), genKey(t, alg, "old")
	for _, k := range []*jwk.Key{gone, old} {
		if _, err := kr.Import(k, stamp(0), Options{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := kr.Delete("gone", stamp(time.Minute), Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Revoke("old", stamp(time.Minute), Options{}); err != nil {
		t.Fatal(err)
	}
	return kr, gone, old
}

func renamed(k *jwk.Key, kid string) *jwk.Key {
	c := *k
	c.KID = kid
	return &c
}

// TestRetiredMaterialRefused: material whose thumbprint matches a deleted
// or revoked key is refused on every way in (import, migrate-legacy,
// import-supabase), naming that key and its state; Force lets it in.
func TestRetiredMaterialRefused(t *testing.T) {
	type entry func(kr *Keyring, k *jwk.Key, o Options) error
	ways := map[string]entry{
		"import": func(kr *Keyring, k *jwk.Key, o Options) error {
			_, err := kr.Import(k, stamp(time.Hour), o)
			return err
		},
		"import-supabase": func(kr *Keyring, k *jwk.Key, o Options) error {
			_, err := kr.ImportSupabase([]*jwk.Key{k}, stamp(time.Hour), o)
			return err
		},
	}
	for name, add := range ways {
		for _, alg := range []jwk.Algorithm{jwk.ES256, jwk.HS256} {
			for _, tc := range []struct {
				retired string
				state   State
			}{{"gone", Deleted}, {"old", Revoked}} {
				kr, gone, old := retiredKeyring(t, alg)
				k := map[string]*jwk.Key{"gone": gone, "old": old}[tc.retired]
				err := add(kr, renamed(k, "again"), Options{})
				var re *RetiredKeyError
				if !errors.As(err, &re) || re.KID != tc.retired || re.State != tc.state {
					t.Fatalf("%s %s of %s material: %v, want a RetiredKeyError naming %q", name, alg, tc.state, err, tc.retired)
				}
				if msg := err.Error(); !strings.Contains(msg, `"`+tc.retired+`"`) || !strings.Contains(msg, tc.state.Label()) {
					t.Errorf("message %q does not name the key and its state", msg)
				}
				if got, _ := kr.Retired(renamed(k, "again")); got == nil || got.KID != tc.retired {
					t.Errorf("Retired: %v, want %q", got, tc.retired)
				}
				if err := add(kr, renamed(k, "again"), Options{Force: true}); err != nil {
					t.Fatalf("%s %s forced: %v", name, alg, err)
				}
				if _, err := kr.Lookup("again"); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	// migrate-legacy: the legacy secret is a deleted key's.
	kr, gone, _ := retiredKeyring(t, jwk.HS256)
	var re *RetiredKeyError
	if _, _, err := kr.MigrateLegacy(renamed(gone, "legacy"), genKey(t, jwk.ES256, "next"), stamp(time.Hour), Options{}); !errors.As(err, &re) || re.KID != "gone" {
		t.Fatalf("migrate-legacy with a deleted secret: %v", err)
	}
	if _, _, err := kr.MigrateLegacy(renamed(gone, "legacy"), genKey(t, jwk.ES256, "next"), stamp(time.Hour), Options{Force: true}); err != nil {
		t.Fatalf("migrate-legacy forced: %v", err)
	}
	// Fresh material is never refused, and a tombstone without a
	// thumbprint (written before keyctl kept them) matches nothing.
	kr, gone, _ = retiredKeyring(t, jwk.ES256)
	if _, err := kr.Import(genKey(t, jwk.ES256, "fresh"), stamp(time.Hour), Options{}); err != nil {
		t.Fatal(err)
	}
	tomb, _ := kr.Lookup("gone")
	tomb.Thumbprint = ""
	if _, err := kr.Import(renamed(gone, "again"), stamp(time.Hour), Options{}); err != nil {
		t.Fatalf("a tombstone without thumbprint: %v", err)
	}
	// A secret's tombstone written before check values (the oct key's
	// thumbprint) still matches; another secret matches neither kind.
	kr, gone, _ = retiredKeyring(t, jwk.HS256)
	tomb, _ = kr.Lookup("gone")
	tomb.SecretCheck, tomb.Thumbprint = "", thumbprintOf(t, gone)
	if got, err := kr.Retired(renamed(gone, "again")); err != nil || got != tomb {
		t.Errorf("a secret's tombstone with a thumbprint: %v, %v", got, err)
	}
	if got, err := kr.Retired(genKey(t, jwk.HS256, "fresh")); err != nil || got != nil {
		t.Errorf("a fresh secret: %v, %v", got, err)
	}
}
