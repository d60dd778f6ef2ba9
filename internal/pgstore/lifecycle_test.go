package pgstore

import (
	"testing"
	"time"

	"github.com/keyctl/keyctl/pkg/jwk"
	"github.com/keyctl/keyctl/pkg/keyring"
)

// TestLifecycleFieldsRoundTrip: the per-key and per-keyring fields added
// after schema 1 ride in the extra and settings columns: a tombstone's
// thumbprint.
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
}
