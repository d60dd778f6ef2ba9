package store

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/keyctl/keyctl/pkg/keyring"
)

// TestTombstoneThumbprintRoundTrip: a deleted key's thumbprint is written
// and read back; a tombstone written before keyctl kept thumbprints still
// loads; a malformed one is refused.
func TestTombstoneThumbprintRoundTrip(t *testing.T) {
	path := t.TempDir() + "/keyring.json"
	k := fixture(t, "throwaway-es256-b.json")
	want, _ := k.Thumbprint()
	_, err := Update(path, Options{Create: true}, func(kr *keyring.Keyring) error {
		if _, err := kr.Create(k, stamp(0)); err != nil {
			return err
		}
		_, err := kr.Delete(k.KID, stamp(time.Minute), keyring.Options{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	f, err := Load(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Keyring.Keys[0].Thumbprint; got != want {
		t.Fatalf("thumbprint read back %q, want %q", got, want)
	}
	data, _ := os.ReadFile(path)
	for _, tc := range []struct {
		name, from, to, wantErr string
	}{
		{"no thumbprint", `,"thumbprint":"` + want + `"`, ``, ""},
		{"malformed", want, "abc", "not a base64url SHA-256 thumbprint"},
	} {
		doc := strings.Replace(string(data), tc.from, tc.to, 1)
		_, err := Parse(path, []byte(doc), Options{})
		if tc.wantErr == "" && err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
		if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.wantErr)
		}
	}
}
