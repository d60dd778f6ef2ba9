package store

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyctl/keyctl/pkg/jwk"
	"github.com/keyctl/keyctl/pkg/keyring"
)

// writeLargeKeyring writes a keyring of n keys as a busy operator's would
// look after years of rotations: one key in use, a few standby, the rest
// previously used, revoked or deleted; mostly ES256 with some RS256 and
// EdDSA keys. Every create and rotation is in the history.
func writeLargeKeyring(tb testing.TB, path string, n, rsa int) {
	tb.Helper()
	keys := make([]*jwk.Key, n)
	for i := range keys {
		alg := jwk.ES256
		switch {
		case i < rsa:
			alg = jwk.RS256
		case i%50 == 7:
			alg = jwk.EdDSA
		}
		keys[i] = gen(tb, alg, fmt.Sprintf("key-%04d", i))
	}
	_, err := Update(path, Options{Create: true}, func(kr *keyring.Keyring) error {
		at := t0
		for i, k := range keys {
			at = at.Add(time.Hour)
			s := keyring.Stamp{At: at, By: "bench@host"}
			if _, err := kr.Create(k, s); err != nil {
				return err
			}
			if i < n-3 {
				if _, _, err := kr.Rotate(k.KID, s, keyring.Options{Force: true}); err != nil {
					return err
				}
			}
		}
		// Revoke and delete the older half.
		for i := range n / 2 {
			s := keyring.Stamp{At: at.Add(24 * time.Hour), By: "bench@host"}
			kid := fmt.Sprintf("key-%04d", i)
			if _, err := kr.Revoke(kid, s, keyring.Options{}); err != nil {
				return err
			}
			if i%3 == 0 {
				if _, err := kr.Delete(kid, s, keyring.Options{}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

var largeKeyring struct {
	path string
}

func largeKeyringPath(b *testing.B) string {
	if largeKeyring.path == "" {
		dir, err := os.MkdirTemp("", "keyctl-bench-")
		if err != nil {
			b.Fatal(err)
		}
		largeKeyring.path = filepath.Join(dir, "keyring.json")
		writeLargeKeyring(b, largeKeyring.path, 1000, 20)
	}
	return largeKeyring.path
}

// BenchmarkLoadSigningKey1000 is what `keyctl gen bearer-jwt` pays for the
// keyring: load a 1,000-key keyring and parse the key in use.
func BenchmarkLoadSigningKey1000(b *testing.B) {
	path := largeKeyringPath(b)
	b.ResetTimer()
	for b.Loop() {
		f, err := Load(path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		e, err := f.Keyring.SigningKey()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.Material.Private(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoad1000 is what `keyctl keys list` pays.
func BenchmarkLoad1000(b *testing.B) {
	path := largeKeyringPath(b)
	for b.Loop() {
		if _, err := Load(path, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPublicJWKS1000 is what `keyctl jwks` and `keyctl serve` pay.
func BenchmarkPublicJWKS1000(b *testing.B) {
	path := largeKeyringPath(b)
	for b.Loop() {
		f, err := Load(path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.Keyring.PublicJWKS(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawECDSASign is the baseline: one raw P-256 signature.
func BenchmarkRawECDSASign(b *testing.B) {
	k := gen(b, jwk.ES256, "raw").Material.(*ecdsa.PrivateKey)
	sum := sha256.Sum256([]byte("payload"))
	for b.Loop() {
		if _, err := ecdsa.SignASN1(rand.Reader, k, sum[:]); err != nil {
			b.Fatal(err)
		}
	}
}

// TestWriteLargeKeyring writes the 1,000-key keyring used to time whole
// keyctl processes (docs/keyring.md):
//
//	KEYCTL_LARGE_KEYRING=/tmp/big/keyring.json go test ./internal/store -run TestWriteLargeKeyring
func TestWriteLargeKeyring(t *testing.T) {
	path := os.Getenv("KEYCTL_LARGE_KEYRING")
	if path == "" {
		t.Skip("set KEYCTL_LARGE_KEYRING to a path to write the keyring")
	}
	writeLargeKeyring(t, path, 1000, 20)
}
