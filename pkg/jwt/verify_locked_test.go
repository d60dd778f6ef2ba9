package jwt

import (
	"errors"
	"testing"
	"time"

	"github.com/keyctl/keyctl/pkg/jwk"
)

// TestLockedKeyNeverFallsThrough: a trusted key whose material is locked
// still decides which key a token means; its tokens are "could not check",
// never verified by another key or rejected as if it did not exist.
func TestLockedKeyNeverFallsThrough(t *testing.T) {
	es, _ := jwk.Generate(jwk.ES256, jwk.GenerateOptions{KID: "es"})
	esPub, _ := es.Public()
	locked := &jwk.Key{KID: "legacy", Alg: jwk.HS256, KeyOps: []string{jwk.OpVerify}}
	set, err := NewKeySet([]TrustedKey{
		{Key: esPub, State: StateInUse},
		{Key: locked, State: StatePreviouslyUsed, Legacy: true, Locked: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	v, err := NewVerifier(set, Policy{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	claims := map[string]any{"exp": now.Add(time.Hour).Unix(), "role": "anon"}

	withKID, _ := NewSigner(es)
	tok, _ := withKID.Sign(claims)
	if _, err := v.Verify(tok); err != nil {
		t.Fatalf("token with the ES256 kid: %v", err)
	}

	noKID := *es
	noKID.KID = ""
	s, _ := NewSigner(&noKID)
	tok, _ = s.Sign(claims)
	_, err = v.Verify(tok)
	var ku *KeyUnavailableError
	if !errors.As(err, &ku) || ku.KID != "legacy" {
		t.Fatalf("kid-less token: %v, want KeyUnavailableError for legacy", err)
	}
	if errors.Is(err, ErrRejected) {
		t.Fatal("a locked key's token counts as rejected")
	}

	// Naming the locked key by kid is the same.
	lockedKID := *es
	lockedKID.KID = "legacy"
	s, _ = NewSigner(&lockedKID)
	tok, _ = s.Sign(claims)
	if _, err := v.Verify(tok); !errors.As(err, &ku) {
		t.Fatalf("token naming the locked kid: %v", err)
	}

	// A locked key must say what it is.
	if _, err := NewKeySet([]TrustedKey{{Key: &jwk.Key{KID: "x"}, State: StateInUse, Locked: true}}); err == nil {
		t.Fatal("locked key without an algorithm accepted")
	}
}
