package jwt_test

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keyctl/keyctl/pkg/jwk"
	"github.com/keyctl/keyctl/pkg/jwt"
)

// Verify a token against a key set with a policy, and read why a forged
// one is refused: every failed check, at once, and no claims.
func ExampleVerifier_Verify() {
	// A throw-away Ed25519 key from a fixed seed, so the output is stable.
	seed := []byte("throwaway-example-seed-32-bytes!")
	key := &jwk.Key{KID: "example", Alg: jwk.EdDSA, Material: ed25519.NewKeyFromSeed(seed)}
	signer, _ := jwt.NewSigner(key)
	now := time.Unix(1_800_000_000, 0)
	tok, _ := signer.Sign(map[string]any{"exp": now.Add(time.Hour).Unix(), "role": "authenticated", "sub": "user-1"})

	pub, _ := key.Public()
	keys, _ := jwt.NewKeySet([]jwt.TrustedKey{{Key: pub}})
	v, _ := jwt.NewVerifier(keys, jwt.Policy{Now: now, Role: "authenticated"})

	got, err := v.Verify(tok)
	fmt.Println(err, got.Subject, got.Expiry.Format(time.RFC3339), string(got.Claims))

	// Claim to be service_role, and hope nobody checks.
	parts := strings.Split(tok, ".")
	forged := parts[0] + ".eyJleHAiOjE4MDAwMDM2MDAsInJvbGUiOiJzZXJ2aWNlX3JvbGUifQ." + parts[2]
	got, err = v.Verify(forged)
	var ve *jwt.ValidationError
	fmt.Println(got == nil, errors.As(err, &ve), errors.Is(err, jwt.ErrRejected))
	for _, f := range ve.Failures {
		fmt.Printf("%s: %s\n", f.Check, f.Reason)
	}
	// Output:
	// <nil> user-1 2027-01-15T09:00:00Z {"exp":1800003600,"role":"authenticated","sub":"user-1"}
	// true true true
	// signature: EdDSA signature does not verify
	// role: role does not match: want "authenticated"
}
