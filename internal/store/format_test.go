package store

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/keyctl/keyctl/pkg/jwk"
	"github.com/keyctl/keyctl/pkg/keyring"
)

// TestTombstoneThumbprintRoundTrip: a deleted key's thumbprint is written
// and read back; a tombstone written before keyctl kept thumbprints still
// loads; a malformed one is refused.
func TestTombstoneThumbprintRoundTrip(t *testing.T) {
	k := fixture(t, "throwaway-es256-b.json")
	want, _ := k.Thumbprint()
	path, f := withDeleted(t, k)
	if got := f.Keyring.Keys[0].Thumbprint; got != want {
		t.Fatalf("thumbprint read back %q, want %q", got, want)
	}
	data, _ := os.ReadFile(path)
	parseEdits(t, path, data, []docEdit{
		{"no thumbprint", `,"thumbprint":"` + want + `"`, ``, ""},
		{"malformed", want, "abc", "not a base64url SHA-256 thumbprint"},
	})
}

// withDeleted writes a keyring file with gone, deleted, and others
// (standby), and loads it back.
func withDeleted(t *testing.T, gone *jwk.Key, others ...*jwk.Key) (string, *File) {
	t.Helper()
	path := t.TempDir() + "/keyring.json"
	_, err := Update(path, Options{Create: true}, func(kr *keyring.Keyring) error {
		for _, k := range append([]*jwk.Key{gone}, others...) {
			if _, err := kr.Create(k, stamp(0)); err != nil {
				return err
			}
		}
		_, err := kr.Delete(gone.KID, stamp(time.Minute), keyring.Options{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	f, err := Load(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return path, f
}

// docEdit is a keyring document with from replaced by to, and the error
// Parse must give (empty: none).
type docEdit struct{ name, from, to, wantErr string }

func parseEdits(t *testing.T, path string, data []byte, edits []docEdit) {
	t.Helper()
	for _, tc := range edits {
		doc := strings.Replace(string(data), tc.from, tc.to, 1)
		if doc == string(data) {
			t.Fatalf("%s: %q not in the document", tc.name, tc.from)
		}
		_, err := Parse(path, []byte(doc), Options{})
		if tc.wantErr == "" && err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
		if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.wantErr)
		}
	}
}

// TestTombstoneSecretCheckRoundTrip: a deleted shared secret's tombstone
// keeps a check value, written and read back, and no thumbprint (an
// unsalted hash of the secret); a check value anywhere else, beside a
// thumbprint, or malformed is refused; a secret's tombstone written with a
// thumbprint before check values still loads.
func TestTombstoneSecretCheckRoundTrip(t *testing.T) {
	k := fixture(t, "throwaway-hs256.json")
	tp, _ := k.Thumbprint()
	path, f := withDeleted(t, k, fixture(t, "throwaway-es256-b.json"))
	tomb, _ := f.Keyring.Lookup(k.KID)
	check := tomb.SecretCheck
	if check == "" || tomb.Thumbprint != "" {
		t.Fatalf("read back: thumbprint %q, secret check %q", tomb.Thumbprint, check)
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), tp) || !strings.Contains(string(data), `"secret_check":"`+check+`"`) {
		t.Fatalf("the file holds the secret's thumbprint or not its check value:\n%s", data)
	}
	if got, err := f.Keyring.Retired(k); err != nil || got == nil || got.KID != k.KID {
		t.Errorf("the secret read back is not recognised: %v, %v", got, err)
	}
	es := `"state":"standby"`
	parseEdits(t, path, data, []docEdit{
		{"thumbprint of old", `"secret_check":"` + check + `"`, `"thumbprint":"` + tp + `"`, ""},
		{"both", `"secret_check":"`, `"thumbprint":"` + tp + `","secret_check":"`, "a tombstone keeps one"},
		{"malformed", check, "pbkdf2-sha256$1$AA$AA", "secret check"},
		{"live key", es, es + `,"secret_check":"` + check + `"`, "only a deleted shared secret keeps a secret check"},
	})
}
