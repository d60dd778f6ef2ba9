package keyring

import (
	"errors"
	"testing"
	"time"

	"github.com/keyctl/keyctl/pkg/jwk"
)

// TestLoweredLifetimeKeepsTheWait: a key rotated out while the max token
// lifetime was 1h keeps a 1h wait when the lifetime is lowered to 1m
// afterwards (tokens it signed may live an hour); raising the lifetime
// lengthens the wait.
func TestLoweredLifetimeKeepsTheWait(t *testing.T) {
	kr := &Keyring{}
	for _, kid := range []string{"a", "b"} {
		if _, err := kr.Create(genKey(t, jwk.ES256, kid), stamp(0)); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := kr.Rotate("a", stamp(0), Options{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := kr.Rotate("b", stamp(time.Hour), Options{}); err != nil {
		t.Fatal(err)
	}
	a, _ := kr.Lookup("a")
	if a.RotatedOutLifetime != time.Hour {
		t.Fatalf("lifetime recorded at rotation: %s, want 1h", a.RotatedOutLifetime)
	}
	if err := kr.SetMaxTokenLifetime(time.Minute, stamp(time.Hour)); err != nil {
		t.Fatal(err)
	}
	at := stamp(time.Hour + 20*time.Minute) // past 1m + 15m, before 1h + 15m
	var early *TooEarlyError
	if _, err := kr.Revoke("a", at, Options{}); !errors.As(err, &early) {
		t.Fatalf("revoke 20m after rotating out, lifetime lowered to 1m: %v, want TooEarlyError", err)
	}
	if early.MaxTokenLifetime != time.Hour || !early.SafeAt.Equal(t0.Add(2*time.Hour+RevocationGrace)) {
		t.Errorf("TooEarlyError %+v, want the 1h lifetime in force at the rotation", early)
	}
	// A lower lifetime for this one revocation does not shorten it either.
	if _, err := kr.Revoke("a", at, Options{MaxTokenLifetime: time.Minute}); !errors.As(err, &early) {
		t.Fatalf("with --max-token-lifetime 1m: %v, want TooEarlyError", err)
	}
	if safe, _ := SafeToRevoke(a, a.WaitLifetime(kr.Lifetime())); !safe.Equal(early.SafeAt) {
		t.Errorf("SafeToRevoke %s, want %s", safe, early.SafeAt)
	}
	// Raised later: the longer lifetime counts.
	if err := kr.SetMaxTokenLifetime(3*time.Hour, stamp(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Revoke("a", stamp(3*time.Hour), Options{}); !errors.As(err, &early) || early.MaxTokenLifetime != 3*time.Hour {
		t.Fatalf("lifetime raised to 3h: %v", err)
	}
	if _, err := kr.Revoke("a", stamp(4*time.Hour+RevocationGrace), Options{}); err != nil {
		t.Fatal(err)
	}
}
