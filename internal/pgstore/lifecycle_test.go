package pgstore

import (
	"testing"
	"time"

	"github.com/keyctl/keyctl/pkg/jwk"
	"github.com/keyctl/keyctl/pkg/keyring"
)

// TestLifecycleFieldsRoundTrip: the per-key and per-keyring fields added
// after schema 1 ride in the extra and settings columns: a tombstone's
// thumbprint (a secret's check value), the max token lifetime in force when a key left in use, when
// a key came back from revoked, and the JWKS cache window.
func TestLifecycleFieldsRoundTrip(t *testing.T) {
	uri := migrated(t)
	s := newStore(t, uri, Options{})
	now := time.Now()
	gone := genKey(t, jwk.ES256)
	want, _ := gone.Thumbprint()
	_, err := s.Update(ctx, func(kr *Keyring) error {
		if _, err := kr.Create(gone, stamp(now)); err != nil {
			return err
		}
		_, err := kr.Delete(gone.KID, stamp(now), keyring.Options{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	kr, err := New(uri, Options{}).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e, _ := kr.Lookup(gone.KID)
	if e.Thumbprint != want {
		t.Fatalf("tombstone thumbprint %q, want %q", e.Thumbprint, want)
	}
	// The material of the deleted key is refused under another kid.
	again := *gone
	again.KID = "again"
	_, err = s.Update(ctx, func(kr *Keyring) error {
		_, err := kr.Import(&again, stamp(now), keyring.Options{})
		return err
	})
	if err == nil {
		t.Fatal("the deleted key's material came back under another kid")
	}
	// A shared secret's tombstone keeps its check value, no thumbprint.
	secret := genKey(t, jwk.HS256)
	_, err = s.Update(ctx, func(kr *Keyring) error {
		if _, err := kr.Create(secret, stamp(now)); err != nil {
			return err
		}
		_, err := kr.Delete(secret.KID, stamp(now), keyring.Options{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if kr, err = New(uri, Options{}).Load(ctx); err != nil {
		t.Fatal(err)
	}
	e, _ = kr.Lookup(secret.KID)
	if e.Thumbprint != "" || keyring.ParseSecretCheck(e.SecretCheck) != nil {
		t.Fatalf("a secret's tombstone: thumbprint %q, secret check %q", e.Thumbprint, e.SecretCheck)
	}
	if got, err := kr.Retired(secret); err != nil || got == nil || got.KID != secret.KID {
		t.Fatalf("the deleted secret read back is not recognised: %v, %v", got, err)
	}

	// Rotated out under a 2h lifetime, then lowered to 1m: the 2h stays.
	_, err = s.Update(ctx, func(kr *Keyring) error {
		a, b := genKey(t, jwk.ES256), genKey(t, jwk.ES256)
		a.KID, b.KID = "a", "b"
		if err := kr.SetMaxTokenLifetime(2*time.Hour, stamp(now)); err != nil {
			return err
		}
		for _, k := range []*jwk.Key{a, b} {
			if _, err := kr.Create(k, stamp(now.Add(-time.Hour))); err != nil {
				return err
			}
		}
		if _, _, err := kr.Rotate("a", stamp(now), keyring.Options{}); err != nil {
			return err
		}
		if _, _, err := kr.Rotate("b", stamp(now), keyring.Options{}); err != nil {
			return err
		}
		return kr.SetMaxTokenLifetime(time.Minute, stamp(now))
	})
	if err != nil {
		t.Fatal(err)
	}
	kr, err = New(uri, Options{}).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := kr.Lookup("a")
	if a.RotatedOutLifetime != 2*time.Hour || kr.Lifetime() != time.Minute {
		t.Fatalf("rotated out under %s (want 2h), keyring lifetime %s (want 1m)", a.RotatedOutLifetime, kr.Lifetime())
	}

	// Back from revoked: published from then; the window is kept.
	later := now.Add(3 * time.Hour)
	_, err = s.Update(ctx, func(kr *Keyring) error {
		if err := kr.SetJWKSCacheWindow(7*time.Minute, stamp(later)); err != nil {
			return err
		}
		if _, err := kr.Revoke("a", stamp(later), keyring.Options{}); err != nil {
			return err
		}
		_, err := kr.Standby("a", stamp(later))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	kr, err = New(uri, Options{}).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a, _ = kr.Lookup("a")
	if kr.CacheWindow() != 7*time.Minute || !a.PublishedSince().Equal(stamp(later).At) {
		t.Fatalf("window %s (want 7m), a published since %s (want %s)", kr.CacheWindow(), a.PublishedSince(), stamp(later).At)
	}
	if _, _, err := kr.Rotate("a", stamp(later.Add(time.Minute)), keyring.Options{}); err == nil {
		t.Fatal("rotated to a key back from revoked a minute ago")
	}
}
