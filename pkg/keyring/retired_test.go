package keyring

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keyctl/keyctl/pkg/jwk"
)

func thumbprintOf(t *testing.T, k *jwk.Key) string {
	t.Helper()
	tp, err := k.Thumbprint()
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

// TestTombstoneKeepsThumbprint: deleting a key destroys its material but
// keeps its RFC 7638 thumbprint (of the public key, or of the oct key for
// a shared secret).
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
		if e.Material != nil || e.Thumbprint != thumbprintOf(t, k) || e.Thumbprint == "" {
			t.Errorf("%s tombstone: thumbprint %q, want %q", alg, e.Thumbprint, thumbprintOf(t, k))
		}
	}
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
}
