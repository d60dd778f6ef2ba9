package keyring

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keyctl/keyctl/pkg/jwk"
)

// inUseAndStandby: "cur" in use since t0, "next" created at t0+at.
func inUseAndStandby(t *testing.T, at time.Duration) *Keyring {
	t.Helper()
	kr := &Keyring{}
	if _, err := kr.Create(genKey(t, jwk.ES256, "cur"), stamp(0)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := kr.Rotate("cur", stamp(0), Options{}); err != nil {
		t.Fatalf("the first key waits for nothing: %v", err)
	}
	if _, err := kr.Create(genKey(t, jwk.ES256, "next"), stamp(at)); err != nil {
		t.Fatal(err)
	}
	return kr
}

// TestRotationWaitsForJWKSCaches: rotating to a standby key published less
// than the JWKS cache window (default 20m) ago is refused while another key
// is in use, saying when it becomes safe; force rotates anyway with a note.
func TestRotationWaitsForJWKSCaches(t *testing.T) {
	kr := inUseAndStandby(t, time.Hour)
	var early *RotationTooEarlyError
	_, _, err := kr.Rotate("next", stamp(time.Hour+2*time.Second), Options{})
	if !errors.As(err, &early) {
		t.Fatalf("rotate 2s after create: %v, want RotationTooEarlyError", err)
	}
	safe := t0.Add(time.Hour + DefaultJWKSCacheWindow)
	if early.KID != "next" || early.InUse != "cur" || !early.SafeAt.Equal(safe) || early.Window != 20*time.Minute || !early.Published.Equal(t0.Add(time.Hour)) {
		t.Errorf("RotationTooEarlyError %+v", early)
	}
	if !strings.Contains(err.Error(), safe.Format(time.RFC3339)) {
		t.Errorf("message %q does not say when it becomes safe", err)
	}
	if cur, _ := kr.SigningKey(); cur.KID != "cur" {
		t.Fatal("a refused rotation changed the key in use")
	}
	if _, _, err := kr.Rotate("next", Stamp{At: safe.Add(-time.Second)}, Options{}); !errors.As(err, &early) {
		t.Fatalf("a second early: %v", err)
	}
	// Forced: done, and the history says so.
	forced := cloneStates(kr)
	if _, _, err := forced.Rotate("next", stamp(time.Hour+2*time.Second), Options{Force: true}); err != nil {
		t.Fatal(err)
	}
	if n := forced.History[len(forced.History)-1].Note; !strings.Contains(n, "forced before "+safe.Format(time.RFC3339)) {
		t.Errorf("forced rotation note %q", n)
	}
	if _, _, err := kr.Rotate("next", Stamp{At: safe}, Options{}); err != nil {
		t.Fatalf("rotate when safe: %v", err)
	}
}

// TestRotationWaitSetting: the window is a keyring setting.
func TestRotationWaitSetting(t *testing.T) {
	kr := inUseAndStandby(t, time.Hour)
	if kr.CacheWindow() != DefaultJWKSCacheWindow {
		t.Fatalf("default window %s", kr.CacheWindow())
	}
	if err := kr.SetJWKSCacheWindow(0, stamp(0)); err == nil {
		t.Error("a 0s window was accepted")
	}
	if err := kr.SetJWKSCacheWindow(5*time.Minute, stamp(0)); err != nil {
		t.Fatal(err)
	}
	if n := kr.History[len(kr.History)-1]; n.Action != ActionSetCacheWindow || n.Note != "JWKS cache window 5m (was 20m)" {
		t.Errorf("history %+v", n)
	}
	var early *RotationTooEarlyError
	if _, _, err := kr.Rotate("next", stamp(time.Hour+4*time.Minute), Options{}); !errors.As(err, &early) || early.Window != 5*time.Minute {
		t.Fatalf("4m with a 5m window: %v", err)
	}
	if _, _, err := kr.Rotate("next", stamp(time.Hour+5*time.Minute), Options{}); err != nil {
		t.Fatalf("5m with a 5m window: %v", err)
	}
}

// TestRotationWaitCases: the legacy secret in use waits too; a key moved
// back from revoked counts as published from then; a key moved back from
// previously used was never unpublished; the first key of a keyring and a
// Supabase import into an empty keyring need no wait, into a keyring with a
// key in use they do.
func TestRotationWaitCases(t *testing.T) {
	var early *RotationTooEarlyError
	kr := &Keyring{}
	if _, _, err := kr.MigrateLegacy(genKey(t, jwk.HS256, "legacy"), genKey(t, jwk.ES256, "next"), stamp(0), Options{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := kr.Rotate("next", stamp(time.Minute), Options{}); !errors.As(err, &early) || early.InUse != "legacy" {
		t.Fatalf("legacy in use: %v", err)
	}

	kr = inUseAndStandby(t, 0)
	if _, err := kr.Revoke("next", stamp(time.Hour), Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Standby("next", stamp(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := kr.Rotate("next", stamp(2*time.Hour+time.Minute), Options{}); !errors.As(err, &early) || !early.Published.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("back from revoked a minute ago: %v", err)
	}
	if _, _, err := kr.Rotate("next", stamp(2*time.Hour+20*time.Minute), Options{}); err != nil {
		t.Fatal(err)
	}
	// cur is previously used now; back to standby and in use at once.
	if _, err := kr.Standby("cur", stamp(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := kr.Rotate("cur", stamp(3*time.Hour), Options{}); err != nil {
		t.Fatalf("a previously used key never left the JWKS: %v", err)
	}

	k := genKey(t, jwk.ES256, "sb")
	k.KeyOps = []string{jwk.OpSign, jwk.OpVerify}
	if _, err := (&Keyring{}).ImportSupabase([]*jwk.Key{k}, stamp(0), Options{}); err != nil {
		t.Fatalf("import-supabase into an empty keyring: %v", err)
	}
	kr = inUseAndStandby(t, 0)
	if _, err := kr.ImportSupabase([]*jwk.Key{k}, stamp(time.Hour), Options{}); !errors.As(err, &early) {
		t.Fatalf("import-supabase of a new signer over a key in use: %v", err)
	}
	if _, err := kr.Lookup("sb"); err == nil {
		t.Fatal("a refused import-supabase added the key")
	}
	if _, err := kr.ImportSupabase([]*jwk.Key{k}, stamp(time.Hour), Options{Force: true}); err != nil {
		t.Fatal(err)
	}
}
