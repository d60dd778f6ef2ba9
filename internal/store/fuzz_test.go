package store

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyctl/keyctl/pkg/keyring"
)

// fixtureKeyrings are the sample keyring documents in testdata/keyring.
func fixtureKeyrings(t testing.TB) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("..", "..", "testdata", "keyring", "*.keyring.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixture keyrings: %v", err)
	}
	out := map[string][]byte{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(p)] = data
	}
	return out
}

// FuzzParse: no input makes the loader panic, and whatever it accepts can
// be written back and read again to the same keyring.
func FuzzParse(f *testing.F) {
	for _, data := range fixtureKeyrings(f) {
		f.Add(data)
		f.Add(data[:len(data)/2])
		f.Add(bytes.Replace(data, []byte(`"in_use"`), []byte(`"standby"`), 1))
	}
	f.Add([]byte(`{"version":1,"keys":[],"history":[]}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`{"version":1,"keys":[{"kid":"s","alg":"HS256","state":"deleted","origin":"imported","created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z","secret_check":"pbkdf2-sha256$600000$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}],"history":[]}`))
	f.Add([]byte(`{"version":1,"keys":[{"kid":"a\u0062","alg":"ES256"}],"history":[]}`))
	f.Add([]byte(`{"version":1,"keys":[],"history":[{"at":"2026-01-01T00:00:00Z","action":"x","note":"\"\\"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz", data, Options{})
		if err != nil {
			return
		}
		// Key material is jwk.Parse's to fuzz (and crypto under the fuzzer's
		// coverage instrumentation is too slow to explore anything): this
		// target covers the document reader and writer.
		if err := file.LoadHistory(); err != nil {
			return
		}
		out, err := file.Marshal()
		if err != nil {
			return // e.g. a key whose material does not parse
		}
		again, err := Parse("fuzz", out, Options{History: true})
		if err != nil {
			t.Fatalf("written keyring does not load: %v\n%s", err, out)
		}
		if len(again.Keyring.Keys) != len(file.Keyring.Keys) || len(again.Keyring.History) != len(file.Keyring.History) {
			t.Fatal("round trip lost keys or events")
		}
		for i, e := range file.Keyring.Keys {
			a := again.Keyring.Keys[i]
			if a.KID != e.KID || a.State != e.State || a.Alg != e.Alg || !a.Created.Equal(e.Created) {
				t.Fatalf("key %d changed: %+v -> %+v", i, e, a)
			}
		}
	})
}

// TestWriteFixtureKeyrings regenerates testdata/keyring/*.keyring.json:
//
//	KEYCTL_UPDATE_FIXTURES=1 go test ./internal/store -run TestWriteFixtureKeyrings
func TestWriteFixtureKeyrings(t *testing.T) {
	if os.Getenv("KEYCTL_UPDATE_FIXTURES") == "" {
		t.Skip("set KEYCTL_UPDATE_FIXTURES=1 to regenerate")
	}
	dir := filepath.Join("..", "..", "testdata", "keyring")
	plain := sample(t)
	data, _ := os.ReadFile(plain)
	os.WriteFile(filepath.Join(dir, "sample.keyring.json"), data, 0o644)
	saved := PBES2Iterations
	PBES2Iterations = 600_000
	defer func() { PBES2Iterations = saved }()
	if _, err := Encrypt(plain, Options{}, []byte("throwaway-passphrase"), keyring.Stamp{At: t0.Add(time.Hour), By: "tester@host"}); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(plain)
	os.WriteFile(filepath.Join(dir, "sample-encrypted.keyring.json"), data, 0o644)
}

// TestFixtureKeyringsLoad keeps the fixtures honest.
func TestFixtureKeyringsLoad(t *testing.T) {
	for name, data := range fixtureKeyrings(t) {
		f, err := Parse(name, data, Options{History: true, Passphrase: pass("throwaway-passphrase")})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := f.Keyring.Validate(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		cur, err := f.Keyring.SigningKey()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := cur.Material.Private(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
}
