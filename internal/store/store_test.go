package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyctl/keyctl/pkg/jwk"
	"github.com/keyctl/keyctl/pkg/keyring"
)

func init() {
	// The real count (600,000) is exercised by the end-to-end scripts; here
	// it would only slow the race detector down.
	PBES2Iterations = 1000
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func stamp(d time.Duration) keyring.Stamp { return keyring.Stamp{At: t0.Add(d), By: "tester@host"} }

func fixture(t testing.TB, name string) *jwk.Key {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "keyring", name))
	if err != nil {
		t.Fatal(err)
	}
	k, err := jwk.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func gen(t testing.TB, alg jwk.Algorithm, kid string) *jwk.Key {
	t.Helper()
	k, err := jwk.Generate(alg, jwk.GenerateOptions{KID: kid})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pass(p string) func() ([]byte, error) { return func() ([]byte, error) { return []byte(p), nil } }

// sample writes a keyring with a key of every algorithm in every state.
func sample(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keyctl", "keyring.json")
	_, err := Update(path, Options{Create: true}, func(kr *keyring.Keyring) error {
		steps := []error{}
		add := func(_ any, err error) { steps = append(steps, err) }
		add(kr.Create(fixture(t, "throwaway-es256-a.json"), stamp(0)))
		add(kr.Create(fixture(t, "throwaway-rs256.json"), stamp(0)))
		add(kr.Import(fixture(t, "throwaway-eddsa.json"), stamp(0), keyring.Options{}))
		add(kr.Import(fixture(t, "throwaway-hs256.json"), stamp(0), keyring.Options{}))
		add(kr.Create(fixture(t, "throwaway-es256-b.json"), stamp(0)))
		add(kr.Create(fixture(t, "throwaway-es256-c.json"), stamp(0)))
		_, _, err := kr.Rotate("throwaway-es256-a", stamp(time.Minute), keyring.Options{})
		add(nil, err)
		_, _, err = kr.Rotate("throwaway-rs256", stamp(2*time.Minute), keyring.Options{Force: true})
		add(nil, err)
		add(kr.Revoke("throwaway-es256-b", stamp(3*time.Minute), keyring.Options{}))
		add(kr.Delete("throwaway-es256-c", stamp(3*time.Minute), keyring.Options{}))
		return errors.Join(steps...)
	})
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRoundTrip(t *testing.T) {
	path := sample(t)
	st, _ := os.Stat(path)
	if st.Mode().Perm() != FilePerm {
		t.Fatalf("keyring mode %04o", st.Mode().Perm())
	}
	dst, _ := os.Stat(filepath.Dir(path))
	if dst.Mode().Perm() != DirPerm {
		t.Fatalf("directory mode %04o", dst.Mode().Perm())
	}
	lazy, err := Load(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if lazy.Keyring.History != nil {
		t.Fatal("Load read the history without being asked")
	}
	if err := lazy.LoadHistory(); err != nil || len(lazy.Keyring.History) != 11 {
		t.Fatalf("LoadHistory: %v, %d events", err, len(lazy.Keyring.History))
	}
	f, err := Load(path, Options{History: true})
	if err != nil {
		t.Fatal(err)
	}
	kr := f.Keyring
	if err := kr.Validate(); err != nil {
		t.Fatal(err)
	}
	want := map[string]keyring.State{
		"throwaway-es256-a": keyring.PreviouslyUsed, "throwaway-rs256": keyring.InUse,
		"throwaway-eddsa": keyring.Standby, "throwaway-hs256": keyring.Standby,
		"throwaway-es256-b": keyring.Revoked, "throwaway-es256-c": keyring.Deleted,
	}
	for _, e := range kr.Keys {
		if want[e.KID] != e.State {
			t.Errorf("%s: %s, want %s", e.KID, e.State, want[e.KID])
		}
		if e.State == keyring.Deleted {
			continue
		}
		priv, err := e.Material.Private()
		if err != nil {
			t.Fatalf("%s: %v", e.KID, err)
		}
		name := e.KID + ".json"
		if !priv.Equal(fixture(t, name)) {
			t.Errorf("%s: material changed on the way through the file", e.KID)
		}
	}
	a, _ := kr.Lookup("throwaway-es256-a")
	if !a.RotatedOut.Equal(t0.Add(2*time.Minute)) || !a.Created.Equal(t0) {
		t.Fatalf("times: rotated out %v created %v", a.RotatedOut, a.Created)
	}
	if len(kr.History) != 11 || kr.History[6].Action != keyring.ActionRotate || kr.History[6].By != "tester@host" {
		t.Fatalf("history: %d events, %+v", len(kr.History), kr.History)
	}
	// Writing an unchanged keyring gives the same bytes.
	before, _ := os.ReadFile(path)
	if _, err := Update(path, Options{}, func(*keyring.Keyring) error { return nil }); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Fatalf("rewrite changed the file:\n%s\n---\n%s", before, after)
	}
	// Deleted keys keep nothing but their kid and times.
	for _, l := range strings.Split(string(after), "\n") {
		if strings.HasPrefix(l, `    {"kid":"throwaway-es256-c"`) && (strings.Contains(l, `"public"`) || strings.Contains(l, `"private"`)) {
			t.Fatalf("the tombstone holds key material: %s", l)
		}
	}
}

func TestMissingKeyring(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none", "keyring.json")
	if _, err := Load(path, Options{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Load: %v", err)
	}
	if _, err := Update(path, Options{}, func(*keyring.Keyring) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Update: %v", err)
	}
	if _, err := os.Stat(filepath.Dir(path)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("Update without Create made the directory")
	}
}

func TestGroupReadableRefused(t *testing.T) {
	path := sample(t)
	os.Chmod(path, 0o640)
	var pe *PermissionError
	if _, err := Load(path, Options{}); !errors.As(err, &pe) || pe.Mode.Perm() != 0o640 {
		t.Fatalf("Load: %v", err)
	}
	if _, err := Update(path, Options{}, func(*keyring.Keyring) error { return nil }); !errors.As(err, &pe) {
		t.Fatalf("Update: %v", err)
	}
}

// TestDamagedKeyringsAreNeverRewritten feeds Update every kind of damage
// and checks the bytes on disk stay as they were.
func TestDamagedKeyringsAreNeverRewritten(t *testing.T) {
	good, err := os.ReadFile(sample(t))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(good), "\n")
	replaceLine := func(i int, old, new string) string {
		l := slicesClone(lines)
		if !strings.Contains(l[i], old) {
			t.Fatalf("line %d lacks %q: %s", i, old, l[i])
		}
		l[i] = strings.Replace(l[i], old, new, 1)
		return strings.Join(l, "\n")
	}
	keyLine := func(kid string) int {
		for i, l := range lines {
			if strings.Contains(l, `{"kid":"`+kid+`"`) {
				return i
			}
		}
		t.Fatalf("no line for %s", kid)
		return -1
	}
	eddsa := keyLine("throwaway-eddsa")
	cases := map[string]struct {
		data string
		want string
	}{
		"empty":            {"", "empty"},
		"truncated":        {string(good[:len(good)/2]), "truncated"},
		"not JSON":         {"keys: []\n", "not a JSON object"},
		"array":            {"[]", "not a JSON object"},
		"no version":       {`{"keys":[],"history":[]}`, "no format version"},
		"future version":   {strings.Replace(string(good), `"version": 1`, `"version": 2`, 1), "version 2 is newer"},
		"zero version":     {strings.Replace(string(good), `"version": 1`, `"version": 0`, 1), "version 0"},
		"unknown field":    {strings.Replace(string(good), `"version": 1,`, `"version": 1, "extra": true,`, 1), "unknown member"},
		"duplicate member": {strings.Replace(string(good), `"version": 1,`, `"version": 1, "version": 1,`, 1), "duplicate member"},
		"two in use":       {replaceLine(eddsa, `"state":"standby"`, `"state":"in_use"`), "two keys in use"},
		"duplicate kid":    {replaceLine(eddsa, `"kid":"throwaway-eddsa"`, `"kid":"throwaway-rs256"`), "duplicate kid"},
		"unknown state":    {replaceLine(eddsa, `"state":"standby"`, `"state":"retired"`), "unknown state"},
		"bad time":         {replaceLine(eddsa, `"created_at":"2026`, `"created_at":"yesterday 2026`), "created_at"},
		"bad lifetime":     {strings.Replace(string(good), `"max_token_lifetime": "1h"`, `"max_token_lifetime": "-1h"`, 1), "max_token_lifetime"},
		// A key that does not parse: the loader's cheap checks pass, the
		// full validation before a write catches it.
		"bad public key":   {replaceLine(eddsa, `"x":"`, `"x":"AAAA`), `member "x"`},
		"bad private key":  {replaceLine(keyLine("throwaway-hs256"), `"k":"`, `"k":"!`), `member "k"`},
		"mismatched pair":  {swapPrivate(t, lines, keyLine("throwaway-es256-a"), keyLine("throwaway-es256-b")), "kid"},
		"clear in deleted": {replaceLine(keyLine("throwaway-es256-c"), `"origin"`, `"public":{"kty":"EC"},"origin"`), "deleted"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "keyring.json")
			if err := os.WriteFile(path, []byte(c.data), 0o600); err != nil {
				t.Fatal(err)
			}
			called := false
			_, err := Update(path, Options{}, func(*keyring.Keyring) error { called = true; return nil })
			var ce *CorruptError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want a CorruptError mentioning %q", err, c.want)
			}
			if called {
				t.Fatal("the change ran on a damaged keyring")
			}
			after, _ := os.ReadFile(path)
			if string(after) != c.data {
				t.Fatal("a damaged keyring was rewritten")
			}
		})
	}
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }

// swapPrivate exchanges the private members of two keys' lines.
func swapPrivate(t *testing.T, lines []string, i, j int) string {
	t.Helper()
	l := slicesClone(lines)
	get := func(s string) (string, string) {
		k := strings.Index(s, `"private":`)
		end := strings.LastIndex(s, "}")
		return s[:k], s[k:end]
	}
	pi, ri := get(l[i])
	pj, rj := get(l[j])
	l[i] = pi + rj + strings.TrimPrefix(l[i], pi+ri)
	l[j] = pj + ri + strings.TrimPrefix(l[j], pj+rj)
	return strings.Join(l, "\n")
}

// TestLoadIsLazy: a damaged key the command does not use does not stop
// read-only commands; the damage is caught before any write.
func TestLoadIsLazy(t *testing.T) {
	path := sample(t)
	data, _ := os.ReadFile(path)
	bad := strings.Replace(string(data), `"kty":"OKP","kid":"throwaway-eddsa","use":"sig","alg":"EdDSA","crv":"Ed25519","d":"`, `"kty":"OKP","kid":"throwaway-eddsa","use":"sig","alg":"EdDSA","crv":"Ed25519","d":"A`, 1)
	if bad == string(data) {
		t.Fatal("fixture line not found")
	}
	os.WriteFile(path, []byte(bad), 0o600)
	f, err := Load(path, Options{})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	e, err := f.Keyring.SigningKey()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Material.Private(); err != nil {
		t.Fatalf("the key in use: %v", err)
	}
	ed, _ := f.Keyring.Lookup("throwaway-eddsa")
	if _, err := ed.Material.Private(); err == nil {
		t.Fatal("the damaged key parsed")
	}
	if _, err := Update(path, Options{}, func(*keyring.Keyring) error { return nil }); err == nil {
		t.Fatal("Update accepted a damaged key")
	}
}

func TestEncryption(t *testing.T) {
	path := sample(t)
	if _, err := Decrypt(path, Options{}, stamp(0)); !errors.Is(err, ErrNotEncrypted) {
		t.Fatalf("decrypt a clear keyring: %v", err)
	}
	if _, err := Encrypt(path, Options{}, nil, stamp(0)); !errors.Is(err, ErrEmptyPassphrase) {
		t.Fatalf("empty passphrase: %v", err)
	}
	if _, err := Encrypt(path, Options{}, []byte("correct horse"), stamp(time.Hour)); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	for _, member := range []string{`"d":`, `"k":`, `"p":`, `"q":`} {
		if strings.Contains(string(data), member) {
			t.Fatalf("private member %s in the clear:\n%s", member, data)
		}
	}
	if !strings.Contains(string(data), `"alg":"PBES2-HS256+A128KW"`) && !strings.Contains(string(data), SchemePBES2DataKey) {
		t.Fatal("no encryption record")
	}
	if _, err := Encrypt(path, Options{}, []byte("again"), stamp(time.Hour)); !errors.Is(err, ErrAlreadyEncrypted) {
		t.Fatalf("encrypt twice: %v", err)
	}

	// Without a passphrase: everything public works, private keys do not.
	f, err := Load(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !f.Encrypted {
		t.Fatal("not marked encrypted")
	}
	set, err := f.Keyring.PublicJWKS()
	if err != nil || len(set.Keys) != 3 {
		t.Fatalf("JWKS without passphrase: %v %v", set, err)
	}
	cur, _ := f.Keyring.SigningKey()
	if _, err := cur.Material.Private(); !errors.Is(err, ErrNeedPassphrase) {
		t.Fatalf("private without passphrase: %v", err)
	}
	// Wrong passphrase.
	f, _ = Load(path, Options{Passphrase: pass("wrong")})
	cur, _ = f.Keyring.SigningKey()
	if _, err := cur.Material.Private(); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	// Moves need no passphrase; a new key does, and a wrong one changes nothing.
	if _, err := Update(path, Options{}, func(kr *keyring.Keyring) error {
		_, err := kr.Standby("throwaway-es256-b", stamp(2*time.Hour))
		return err
	}); err != nil {
		t.Fatalf("standby without passphrase: %v", err)
	}
	before, _ := os.ReadFile(path)
	_, err = Update(path, Options{Passphrase: pass("wrong")}, func(kr *keyring.Keyring) error {
		_, err := kr.Create(gen(t, jwk.ES256, "new"), stamp(2*time.Hour))
		return err
	})
	if !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("create with a wrong passphrase: %v", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Fatal("a wrong passphrase changed the keyring")
	}
	if _, err := Update(path, Options{Passphrase: pass("correct horse")}, func(kr *keyring.Keyring) error {
		_, err := kr.Create(gen(t, jwk.ES256, "new"), stamp(2*time.Hour))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	f, _ = Load(path, Options{Passphrase: pass("correct horse")})
	for _, e := range f.Keyring.Keys {
		if e.Material == nil {
			continue
		}
		if _, err := e.Material.Private(); err != nil {
			t.Fatalf("%s: %v", e.KID, err)
		}
	}
	// Sealed keys are bound to their kid: moving one to another entry fails.
	data, _ = os.ReadFile(path)
	lines := strings.Split(string(data), "\n")
	var ia, ib int
	for i, l := range lines {
		if strings.Contains(l, `{"kid":"throwaway-es256-a"`) {
			ia = i
		}
		if strings.Contains(l, `{"kid":"throwaway-es256-b"`) {
			ib = i
		}
	}
	swapped := func() string {
		l := slicesClone(lines)
		ga, gb := sealedOf(l[ia]), sealedOf(l[ib])
		l[ia] = strings.Replace(l[ia], ga, gb, 1)
		l[ib] = strings.Replace(l[ib], gb, ga, 1)
		return strings.Join(l, "\n")
	}()
	os.WriteFile(path, []byte(swapped), 0o600)
	f, _ = Load(path, Options{Passphrase: pass("correct horse")})
	a, _ := f.Keyring.Lookup("throwaway-es256-a")
	if _, err := a.Material.Private(); err == nil || !strings.Contains(err.Error(), "belongs to kid") {
		t.Fatalf("swapped sealed key: %v", err)
	}
	if _, err := Update(path, Options{}, func(*keyring.Keyring) error { return nil }); err == nil {
		t.Fatal("Update accepted a swapped sealed key")
	}
	os.WriteFile(path, data, 0o600)

	if _, err := Decrypt(path, Options{Passphrase: pass("wrong")}, stamp(3*time.Hour)); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("decrypt with a wrong passphrase: %v", err)
	}
	if _, err := Decrypt(path, Options{Passphrase: pass("correct horse")}, stamp(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	f, err = Load(path, Options{History: true})
	if err != nil || f.Encrypted {
		t.Fatalf("after decrypt: %v", err)
	}
	if err := f.Keyring.Validate(); err != nil {
		t.Fatal(err)
	}
	last := f.Keyring.History[len(f.Keyring.History)-1]
	if last.Action != keyring.ActionDecrypt {
		t.Fatalf("last event %+v", last)
	}
}

func sealedOf(line string) string {
	i := strings.Index(line, `"private":"`) + len(`"private":"`)
	j := strings.Index(line[i:], `"`)
	return line[i : i+j]
}

func TestBusy(t *testing.T) {
	path := sample(t)
	unlock, err := lock(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var be *BusyError
	_, err = Update(path, Options{LockTimeout: 50 * time.Millisecond}, func(*keyring.Keyring) error { return nil })
	if !errors.As(err, &be) || be.Path != path {
		t.Fatalf("err = %v, want BusyError", err)
	}
	// Readers do not wait for the lock.
	if _, err := Load(path, Options{}); err != nil {
		t.Fatal(err)
	}
	unlock()
	if _, err := Update(path, Options{LockTimeout: 50 * time.Millisecond}, func(*keyring.Keyring) error { return nil }); err != nil {
		t.Fatalf("after unlock: %v", err)
	}
}

func TestStaleTempFilesCleaned(t *testing.T) {
	path := sample(t)
	dir := filepath.Dir(path)
	stale := filepath.Join(dir, tempPrefix+"keyring.json-123456")
	other := filepath.Join(dir, tempPrefix+"signing_keys.json-1")
	os.WriteFile(stale, []byte("half a keyr"), 0o600)
	os.WriteFile(other, []byte("someone else's"), 0o600)
	if _, err := Update(path, Options{}, func(*keyring.Keyring) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("stale temp file left")
	}
	if _, err := os.Stat(other); err != nil {
		t.Fatal("another file's temp file removed")
	}
}

// TestConcurrentWriters: goroutines each add a key under the lock (flock
// locks per open file, so they contend as processes would).
func TestConcurrentWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyring.json")
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := gen(t, jwk.ES256, fmt.Sprintf("k%02d", i))
			_, err := Update(path, Options{Create: true}, func(kr *keyring.Keyring) error {
				_, err := kr.Create(k, stamp(0))
				return err
			})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	f, err := Load(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Keyring.Keys) != n {
		t.Fatalf("%d keys, want %d", len(f.Keyring.Keys), n)
	}
}

func TestMarshalLayout(t *testing.T) {
	data, _ := os.ReadFile(sample(t))
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	if lines[0] != "{" || lines[1] != `  "version": 1,` || lines[2] != `  "max_token_lifetime": "1h",` || lines[3] != `  "keys": [` {
		t.Fatalf("layout:\n%s", data)
	}
	for _, l := range lines[4:10] {
		if !strings.HasPrefix(l, `    {"kid":"`) {
			t.Fatalf("a key spans lines: %q", l)
		}
	}
}

func TestEmptyKeyringRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyring.json")
	if _, err := Update(path, Options{Create: true}, func(*keyring.Keyring) error { return nil }); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if want := "{\n  \"version\": 1,\n  \"max_token_lifetime\": \"1h\",\n  \"keys\": [],\n  \"history\": []\n}\n"; string(data) != want {
		t.Fatalf("got\n%s", data)
	}
	if _, err := Load(path, Options{}); err != nil {
		t.Fatal(err)
	}
}

// TestFileMatchesDocumentedSchema: the file the hand-written writer emits
// decodes into diskDoc, the documented schema, with no member left over.
func TestFileMatchesDocumentedSchema(t *testing.T) {
	data, _ := os.ReadFile(sample(t))
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var doc diskDoc
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("the keyring file does not match diskDoc: %v", err)
	}
	if doc.Version != 1 || len(doc.Keys) != 6 || len(doc.History) == 0 || doc.Encryption != nil {
		t.Fatalf("decoded %d keys, %d events, version %d", len(doc.Keys), len(doc.History), doc.Version)
	}
}
