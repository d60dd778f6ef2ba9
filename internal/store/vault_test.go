package store

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/keyctl/keyctl/pkg/keyring"
)

// encryptedSample writes a keyring with one key, encrypted under passphrase.
func encryptedSample(t *testing.T, passphrase string) string {
	t.Helper()
	path := t.TempDir() + "/keyring.json"
	_, err := Update(path, Options{Create: true}, func(kr *keyring.Keyring) error {
		_, err := kr.Create(fixture(t, "throwaway-es256-a.json"), stamp(0))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Encrypt(path, Options{}, []byte(passphrase), stamp(time.Minute)); err != nil {
		t.Fatal(err)
	}
	return path
}

// dataKeyOf returns the wrapped data key of the keyring file at path.
func dataKeyOf(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Encryption struct {
			DataKey string `json:"data_key"`
		} `json:"encryption"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Encryption.DataKey
}

// replaceDataKey swaps the wrapped data key in the file for wrapped.
func replaceDataKey(t *testing.T, path, wrapped string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	old := dataKeyOf(t, path)
	data = bytes.Replace(data, []byte(old), []byte(wrapped), 1)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// rewrap unwraps the data key with passphrase and wraps it again with p2c
// PBKDF2 iterations: what someone who knows the passphrase (or who simply
// replaces the whole encryption record) can write.
func rewrap(t *testing.T, wrapped, passphrase string, p2c int) string {
	t.Helper()
	obj, err := jose.ParseEncryptedCompact(wrapped, []jose.KeyAlgorithm{jose.PBES2_HS256_A128KW}, []jose.ContentEncryption{jose.A256GCM})
	if err != nil {
		t.Fatal(err)
	}
	key, err := obj.Decrypt([]byte(passphrase))
	if err != nil {
		t.Fatal(err)
	}
	enc, err := jose.NewEncrypter(jose.A256GCM,
		jose.Recipient{Algorithm: jose.PBES2_HS256_A128KW, Key: []byte(passphrase), PBES2Count: p2c},
		(&jose.EncrypterOptions{}).WithContentType(dataKeyType))
	if err != nil {
		t.Fatal(err)
	}
	out, err := enc.Encrypt(key)
	if err != nil {
		t.Fatal(err)
	}
	s, err := out.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// withHeaderP2C rewrites the p2c of a compact JWE's protected header
// without deriving anything (the tag no longer matches, which matters not:
// the count must be refused before any derivation).
func withHeaderP2C(t *testing.T, wrapped string, p2c int) string {
	t.Helper()
	parts := strings.Split(wrapped, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	h["p2c"] = p2c
	raw, _ = json.Marshal(h)
	parts[0] = base64.RawURLEncoding.EncodeToString(raw)
	return strings.Join(parts, ".")
}

// TestWeakenedEncryptionHeaderRefused: a data key re-wrapped with one
// PBKDF2 iteration under the right passphrase is refused with its own
// message, never read and never written back, and the passphrase is not
// even asked for.
func TestWeakenedEncryptionHeaderRefused(t *testing.T) {
	const passphrase = "correct horse battery staple"
	path := encryptedSample(t, passphrase)
	replaceDataKey(t, path, rewrap(t, dataKeyOf(t, path), passphrase, 1))
	before, _ := os.ReadFile(path)

	asked := 0
	ask := func() ([]byte, error) { asked++; return []byte(passphrase), nil }
	f, err := Load(path, Options{Passphrase: ask})
	if err == nil {
		_, err = f.Keyring.Keys[0].Material.Private()
	}
	want := "encryption header asks for only 1 PBKDF2 iterations; keyctl writes 1000 and refuses fewer: the file may have been tampered with"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("load: %v\nwant an error saying %q", err, want)
	}
	if errors.Is(err, ErrWrongPassphrase) || strings.Contains(err.Error(), "wrong passphrase") {
		t.Errorf("reported as a wrong passphrase: %v", err)
	}
	if asked != 0 {
		t.Errorf("the passphrase was asked %d times before the header was refused", asked)
	}
	// A write is refused too: the weak wrap is never carried forward.
	_, err = Update(path, Options{Passphrase: ask}, func(kr *keyring.Keyring) error {
		return kr.SetMaxTokenLifetime(2*time.Hour, stamp(time.Hour))
	})
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("update: %v, want refused", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("the keyring was rewritten")
	}
}

// TestHugeIterationCountRefused: a header asking for more PBKDF2 work than
// keyctl will do is refused before any derivation, with its own message:
// above 10,000,000 as a denial of service, and above the 1,000,000 the JOSE
// library derives as not keyctl's.
func TestHugeIterationCountRefused(t *testing.T) {
	const passphrase = "correct horse battery staple"
	for _, tc := range []struct {
		p2c  int
		want string
	}{
		{20_000_000, "encryption header asks for 20000000 PBKDF2 iterations; keyctl refuses more than 10000000 (deriving the key would stall keyctl: a denial of service)"},
		{2_000_000, "encryption header asks for 2000000 PBKDF2 iterations; keyctl writes 1000 and derives at most 1000000: the file may have been tampered with"},
	} {
		path := encryptedSample(t, passphrase)
		replaceDataKey(t, path, withHeaderP2C(t, dataKeyOf(t, path), tc.p2c))
		asked := 0
		ask := func() ([]byte, error) { asked++; return []byte(passphrase), nil }
		f, err := Load(path, Options{Passphrase: ask})
		if err == nil {
			_, err = f.Keyring.Keys[0].Material.Private()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("p2c %d: %v\nwant an error saying %q", tc.p2c, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "wrong passphrase") {
			t.Errorf("p2c %d: reported as a wrong passphrase: %v", tc.p2c, err)
		}
		if asked != 0 {
			t.Errorf("p2c %d: the passphrase was asked before the header was refused", tc.p2c)
		}
	}
}

// TestIterationCountWithinBoundsOpens: the count keyctl writes opens.
func TestIterationCountWithinBoundsOpens(t *testing.T) {
	const passphrase = "correct horse battery staple"
	path := encryptedSample(t, passphrase)
	f, err := Load(path, Options{Passphrase: pass(passphrase)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Keyring.Keys[0].Material.Private(); err != nil {
		t.Fatal(err)
	}
}
