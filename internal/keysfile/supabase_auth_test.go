package keysfile

import (
	"testing"

	"github.com/keyctl/keyctl/internal/supabasecompat"
	"github.com/keyctl/keyctl/pkg/jwk"
)

// TestSupabaseAuthLoadsEveryES256Key runs Supabase Auth's loader over many
// generated keys: the Supabase CLI's unpadded members fail it about once in
// a hundred keys.
func TestSupabaseAuthLoadsEveryES256Key(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 200
	}
	for i := 0; i < n; i++ {
		k, err := jwk.Generate(jwk.ES256, jwk.GenerateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		data, err := Marshal([]*jwk.Key{k})
		if err != nil {
			t.Fatal(err)
		}
		if err := supabasecompat.LoadAuthKeys(data); err != nil {
			t.Fatalf("Supabase Auth would refuse key %d: %v\n%s", i, err, data)
		}
	}
}

// TestSupabaseAuthLoadsAppendedFiles: every file keyctl leaves, however it
// was appended to, starts Supabase Auth.
func TestSupabaseAuthLoadsAppendedFiles(t *testing.T) {
	var keys []*jwk.Key
	for i, alg := range []jwk.Algorithm{jwk.ES256, jwk.RS256, jwk.EdDSA, jwk.HS256, jwk.ES256} {
		k, err := jwk.Generate(alg, jwk.GenerateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		keys, _, err = Append(keys, k, i%2 == 1)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := Marshal(keys)
		if err := supabasecompat.LoadAuthKeys(data); err != nil {
			t.Fatalf("after appending %s (in use %v): %v", alg, i%2 == 1, err)
		}
	}
}

// TestSupabaseAuthLoaderIsStrictEnough proves the mirror can fail: the
// Supabase CLI's --append output (two signers) and an unpadded coordinate.
func TestSupabaseAuthLoaderIsStrictEnough(t *testing.T) {
	a, _ := jwk.Generate(jwk.ES256, jwk.GenerateOptions{})
	b, _ := jwk.Generate(jwk.ES256, jwk.GenerateOptions{})
	data, _ := Marshal([]*jwk.Key{a, b})
	if err := supabasecompat.LoadAuthKeys(data); err == nil {
		t.Fatal("two signing keys accepted")
	}
	short := []byte(`[{"kty":"EC","kid":"k1","use":"sig","key_ops":["sign","verify"],"alg":"ES256","ext":true,"d":"VoSdpsHR3mZoDdF-JMAX2x1wM_VDagC-04wV7C3SSvU","crv":"P-256","x":"RNIFPDHzBBbN-rq73dCNQG262jsApHtBCt5rwxBkmw","y":"zrijjcKh6RiQ8X-EQq5v2HoXEf8vUo_wHyl5uAnEjjs"}]`)
	if err := supabasecompat.LoadAuthKeys(short); err == nil {
		t.Fatal("31-byte x accepted: the mirror is not Supabase Auth's loader")
	}
}
