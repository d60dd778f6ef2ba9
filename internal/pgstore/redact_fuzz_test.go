package pgstore

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// FuzzRedact: whatever password pgx would send, read from the URI's user
// part or its query, Redact never shows it.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{
		"postgres://alice:s3cret@db:5432/keys?sslmode=verify-full",
		"postgres://op@127.0.0.1:5432/db?sslmode=disable&password=Top;Secret",
		"postgres://postgres:2024#SECRET@h/db",
		"postgres://u:p%40ss@h/db?sslpassword=abcd",
		"postgresql://h1,h2:5433/db?password=a%26b&user=x",
		"postgres://[::1]:5432/db?password=s3cret",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		cfg, err := pgx.ParseConfig(uri)
		if err != nil {
			return
		}
		pw := cfg.Password
		if len(pw) < 4 || !strings.Contains(uri, pw) || strings.Count(uri, pw) > 1 {
			// Too short to tell from other text, from the environment
			// or a file, or also part of the host or user.
			return
		}
		if got := Redact(uri); strings.Contains(got, pw) {
			t.Fatalf("Redact(%q) = %q shows the password %q", uri, got, pw)
		}
	})
}
