package keyring_test

import (
	"fmt"
	"time"

	"github.com/keyctl/keyctl/pkg/jwk"
	"github.com/keyctl/keyctl/pkg/keyring"
)

// The rotation story of Supabase's signing-keys page, in memory.
func Example() {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	by := "ops@laptop"
	kr := &keyring.Keyring{}

	first, _ := jwk.Generate(jwk.ES256, jwk.GenerateOptions{KID: "first"})
	kr.Create(first, keyring.Stamp{At: now, By: by})
	kr.Rotate("first", keyring.Stamp{At: now, By: by}, keyring.Options{})

	second, _ := jwk.Generate(jwk.ES256, jwk.GenerateOptions{KID: "second"})
	kr.Create(second, keyring.Stamp{At: now, By: by})
	kr.Rotate("second", keyring.Stamp{At: now.Add(time.Hour), By: by}, keyring.Options{})

	// Too early: tokens "first" signed may still be live.
	_, err := kr.Revoke("first", keyring.Stamp{At: now.Add(90 * time.Minute), By: by}, keyring.Options{})
	fmt.Println(err)

	// After the max token lifetime plus 15 minutes it is safe.
	kr.Revoke("first", keyring.Stamp{At: now.Add(3 * time.Hour), By: by}, keyring.Options{})
	set, _ := kr.PublicJWKS()
	for _, e := range kr.Keys {
		fmt.Println(e.KID, e.State)
	}
	fmt.Println("published:", len(set.Keys), set.Keys[0].KID)
	// Output:
	// key "first" was in use until 2026-03-01T10:00:00Z: tokens it signed may be valid until 2026-03-01T11:15:00Z (max token lifetime 1h + 15m)
	// first revoked
	// second in_use
	// published: 1 second
}
