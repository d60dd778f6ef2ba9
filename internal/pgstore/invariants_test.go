package pgstore

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/keyctl/keyctl/internal/pgtest"
	"github.com/keyctl/keyctl/pkg/jwk"
	"github.com/keyctl/keyctl/pkg/keyring"
)

// seeded returns a migrated database holding keyring "default" with an
// ES256 key in use, an ES256 standby key and an HS256 standby secret.
func seeded(t *testing.T) (uri string, inUse, standby, secret string) {
	t.Helper()
	uri = migrated(t)
	_, err := newStore(t, uri, Options{}).Update(ctx, func(kr *Keyring) error {
		now := stamp(time.Now())
		for _, alg := range []jwk.Algorithm{jwk.ES256, jwk.ES256, jwk.HS256} {
			if _, err := kr.Create(genKey(t, alg), now); err != nil {
				return err
			}
		}
		_, _, err := kr.Rotate(kr.Keys[0].KID, now, keyring.Options{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	kr, err := New(uri, Options{}).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return uri, kr.Keys[0].KID, kr.Keys[1].KID, kr.Keys[2].KID
}

// The database refuses, by itself, what would break the lifecycle: a
// hand-written UPDATE or an old keyctl cannot.
func TestDatabaseGuardsInvariants(t *testing.T) {
	uri, _, standby, secret := seeded(t)
	conn := connect(t, uri)
	cases := []struct {
		name, sql string
		args      []any
		code      string
	}{
		{"two keys in use", "UPDATE keyctl.keys SET state = 'in_use' WHERE kid = $1", []any{standby}, "23505"},
		{"unknown state", "UPDATE keyctl.keys SET state = 'active' WHERE kid = $1", []any{standby}, "23514"},
		{"deleted with material", "UPDATE keyctl.keys SET state = 'deleted' WHERE kid = $1", []any{standby}, "23514"},
		{"material without key", "UPDATE keyctl.keys SET private_sealed = NULL WHERE kid = $1", []any{standby}, "23514"},
		{"public member on a secret", `UPDATE keyctl.keys SET public_jwk = '{}' WHERE kid = $1`, []any{secret}, "23514"},
		{"history rewritten", "UPDATE keyctl.history SET note = 'x'", nil, "P0001"},
		{"history deleted", "DELETE FROM keyctl.history", nil, "P0001"},
		{"history truncated", "TRUNCATE keyctl.history", nil, "P0001"},
		{"deleted with a public key", "UPDATE keyctl.keys SET state = 'deleted', private_sealed = NULL WHERE kid = $1", []any{standby}, "23514"},
		{"kid with a control character", "UPDATE keyctl.keys SET kid = E'a\\x01b' WHERE kid = $1", []any{standby}, "23514"},
		{"kid too long", "UPDATE keyctl.keys SET kid = repeat('a', 257) WHERE kid = $1", []any{standby}, "23514"},
		{"bad keyring name", "INSERT INTO keyctl.keyrings (name, seal_scheme, created_at, updated_at) VALUES ('a b', 'plaintext', now(), now())", nil, "23514"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := conn.Exec(ctx, c.sql, c.args...)
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != c.code {
				t.Fatalf("%s: %v, want SQLSTATE %s", c.sql, err, c.code)
			}
		})
	}
}

// A history row's db_role is who wrote it, whatever the INSERT says.
func TestHistoryDBRoleIsTheWriter(t *testing.T) {
	uri, _, _, _ := seeded(t)
	conn := connect(t, uri)
	if _, err := conn.Exec(ctx, `INSERT INTO keyctl.history (keyring, at, event, actor, db_role, copied)
		VALUES ('default', now(), 'note', 'mallory', 'keyctl_admin', true)`); err != nil {
		t.Fatal(err)
	}
	var role string
	if err := conn.QueryRow(ctx, "SELECT db_role FROM keyctl.history WHERE actor = 'mallory'").Scan(&role); err != nil {
		t.Fatal(err)
	}
	if role != "postgres" {
		t.Fatalf("db_role %q, want the writer's (postgres)", role)
	}
}

// Schema 2 takes every kid keyctl takes from a document it did not write
// (jwk.CheckKIDSafe: up to 256 bytes, any printable UTF-8), and keyctl
// reads the keyring back.
func TestDatabaseTakesKeyctlsKids(t *testing.T) {
	uri, _, standby, _ := seeded(t)
	conn := connect(t, uri)
	long := strings.Repeat("é", 128) // 256 bytes
	if _, err := conn.Exec(ctx, "UPDATE keyctl.keys SET kid = $1 WHERE kid = $2", long, standby); err != nil {
		t.Fatal(err)
	}
	kr, err := New(uri, Options{}).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if kr.Keys[1].KID != long {
		t.Fatalf("kid %q", kr.Keys[1].KID)
	}
}

// A change the schema refuses is not a connection problem: it says what
// the database refused, without the "could not reach" framing.
func TestRefusedChangeIsNotConnError(t *testing.T) {
	s := New("postgres://u:keyctl-test-throwaway@h/db", Options{})
	for _, code := range []string{"23514", "23505", "22021"} {
		err := s.wrap(&pgconn.PgError{Code: code, Message: "violates check constraint", ConstraintName: "keys_kid_check"})
		var ce *ConnError
		if errors.As(err, &ce) {
			t.Errorf("SQLSTATE %s reported as a connection error: %v", code, err)
		}
		if !strings.Contains(err.Error(), "refused") {
			t.Errorf("SQLSTATE %s: %v", code, err)
		}
	}
	var ce *ConnError
	if !errors.As(s.wrap(&pgconn.PgError{Code: "57P01"}), &ce) {
		t.Error("admin shutdown not a connection error")
	}
}

// A sealed value is bound to its keyring and kid: copied onto another
// key's row, it does not open.
func TestSealedRowsCannotBeSwapped(t *testing.T) {
	uri, inUse, standby, _ := seeded(t)
	conn := connect(t, uri)
	if _, err := conn.Exec(ctx, `UPDATE keyctl.keys SET private_sealed = (SELECT private_sealed FROM keyctl.keys WHERE kid = $1),
		public_jwk = (SELECT public_jwk FROM keyctl.keys WHERE kid = $1) WHERE kid = $2`, inUse, standby); err != nil {
		t.Fatal(err)
	}
	kr, err := New(uri, Options{Secrets: Secrets{Passphrase: pass("correct horse")}}).Load(ctx)
	if err == nil {
		var e *keyring.Entry
		if e, err = kr.Lookup(standby); err == nil {
			_, err = e.Material.Private()
		}
	}
	if err == nil {
		t.Fatal("a sealed key copied onto another kid opened")
	}
	// And across keyrings.
	other := newStore(t, uri, Options{Name: "other"})
	if _, err := other.Update(ctx, func(kr *Keyring) error {
		_, err := kr.Create(genKey(t, jwk.ES256), stamp(time.Now()))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `UPDATE keyctl.keys SET private_sealed = (SELECT private_sealed FROM keyctl.keys WHERE kid = $1)
		WHERE keyring = 'other'`, inUse); err != nil {
		t.Fatal(err)
	}
	kr, err = New(uri, Options{Name: "other", Secrets: Secrets{Passphrase: pass("correct horse")}}).Load(ctx)
	if err == nil {
		_, err = kr.Keys[0].Material.Private()
	}
	if err == nil {
		t.Fatal("a sealed key from another keyring opened")
	}
}

// Writers serialize on the keyring's row: 50 concurrent creators add
// exactly 50 keys and 50 events; concurrent rotations never leave two keys
// in use.
func TestConcurrentWriters(t *testing.T) {
	uri := migrated(t)
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := newStore(t, uri, Options{}).Update(ctx, func(kr *Keyring) error {
				_, err := kr.Create(genKey(t, jwk.EdDSA), stamp(time.Now()))
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
	kr, err := New(uri, Options{History: true}).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(kr.Keys) != n || len(kr.History) != n {
		t.Fatalf("%d keys and %d events, want %d of each", len(kr.Keys), len(kr.History), n)
	}
}

// A writer that dies mid-transaction changes nothing.
func TestAbortedWriteChangesNothing(t *testing.T) {
	uri, inUse, standby, _ := seeded(t)
	_, err := newStore(t, uri, Options{}).Update(ctx, func(kr *Keyring) error {
		if _, _, err := kr.Rotate(standby, stamp(time.Now()), keyring.Options{Force: true}); err != nil {
			return err
		}
		return errors.New("boom")
	})
	if err == nil {
		t.Fatal("want fn's error")
	}
	kr, err := New(uri, Options{}).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := kr.SigningKey(); e.KID != inUse || kr.Version != 2 {
		t.Fatalf("key in use %s, version %d", e.KID, kr.Version)
	}
}

// The read-only role documented in docs/team.md reads the published keys
// and nothing sealed.
func TestReadOnlyRole(t *testing.T) {
	uri, inUse, standby, _ := seeded(t)
	role := fmt.Sprintf("keyctl_reader_%d", time.Now().UnixNano())
	pgtest.Exec(t, uri, ReaderGrants(role, "reader-pass-throwaway")...)
	t.Cleanup(func() {
		pgtest.Exec(t, uri, "DROP OWNED BY "+role+" CASCADE")
		pgtest.Exec(t, pgtest.AdminURL(t), "DROP ROLE "+role)
	})
	readerURI := pgtest.WithUser(uri, role, "reader-pass-throwaway")
	s := New(readerURI, Options{})
	conn := connect(t, readerURI)
	p, err := s.LoadPublished(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Set.Keys) != 2 || p.Set.Keys[0].KID != inUse || p.Set.Keys[1].KID != standby {
		t.Fatalf("published: %+v", p.Set.Keys)
	}
	for _, q := range []string{"SELECT private_sealed FROM keyctl.keys", "SELECT seal FROM keyctl.keyrings", "SELECT * FROM keyctl.history"} {
		var pgErr *pgconn.PgError
		if _, err := conn.Exec(ctx, q); !errors.As(err, &pgErr) || pgErr.Code != "42501" {
			t.Errorf("%s as the reader: %v, want permission denied", q, err)
		}
	}
	if _, err := s.Update(ctx, func(*Keyring) error { return nil }); err == nil {
		t.Error("the reader wrote")
	}
}

// A writer whose clock is far from the server's is refused: waits are
// timed by the writers' clocks.
func TestClockSkewRefused(t *testing.T) {
	uri, _, standby, _ := seeded(t)
	for _, off := range []time.Duration{-2 * time.Hour, 5 * time.Minute} {
		o := Options{Now: func() time.Time { return time.Now().Add(off) }}
		_, err := newStore(t, uri, o).Update(ctx, func(kr *Keyring) error {
			_, err := kr.Standby(standby, stamp(time.Now()))
			return err
		})
		var ce *ClockSkewError
		if !errors.As(err, &ce) {
			t.Fatalf("clock %s off: %v", off, err)
		}
	}
	o := Options{Now: func() time.Time { return time.Now().Add(10 * time.Second) }}
	if _, err := newStore(t, uri, o).Update(ctx, func(*Keyring) error { return nil }); err != nil {
		t.Fatalf("a 10s skew: %v", err)
	}
	// A reseal too: it writes history stamped by the writer's clock.
	o = Options{Now: func() time.Time { return time.Now().Add(-2 * time.Hour) }}
	_, err := newStore(t, uri, o).Reseal(ctx, SchemePlaintext, Secrets{}, stamp(time.Now().Add(-2*time.Hour)))
	var ce *ClockSkewError
	if !errors.As(err, &ce) {
		t.Fatalf("reseal with the clock 2h off: %v", err)
	}
}

// Schema 1 -> 2 on a database holding keys, one of them deleted by hand
// with its public key left in place: the migration applies, keeps that
// row as it was, and the new rules hold for every row written after.
func TestMigrateFromSchema1(t *testing.T) {
	uri := pgtest.NewDatabase(t)
	conn := connect(t, uri)
	one := migrations()[0]
	if _, err := conn.Exec(ctx, `CREATE SCHEMA keyctl; CREATE TABLE keyctl.schema_migrations (version integer PRIMARY KEY,
		name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), applied_by text NOT NULL DEFAULT current_user)`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, one.SQL); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "INSERT INTO keyctl.schema_migrations (version, name) VALUES (1, $1)", one.Name); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO keyctl.keyrings (name, seal_scheme, created_at, updated_at) VALUES ('default', 'plaintext', now(), now());
		INSERT INTO keyctl.keys (keyring, kid, position, alg, state, origin, created_at, updated_at, public_jwk, private_sealed)
		VALUES ('default', 'by-hand', 0, 'ES256', 'deleted', 'created', now(), now(), '{"kty":"EC"}', NULL)`); err != nil {
		t.Fatal(err)
	}
	res, err := Migrate(ctx, conn)
	if err != nil || res.From != 1 || res.To != SchemaVersion() {
		t.Fatalf("migrate: %+v, %v", res, err)
	}
	var public *string
	if err := conn.QueryRow(ctx, "SELECT public_jwk::text FROM keyctl.keys WHERE kid = 'by-hand'").Scan(&public); err != nil || public == nil {
		t.Fatalf("the hand-deleted row's public key: %v, %v", public, err)
	}
	_, err = conn.Exec(ctx, `INSERT INTO keyctl.keys (keyring, kid, position, alg, state, origin, created_at, updated_at, public_jwk, private_sealed)
		VALUES ('default', 'new', 1, 'ES256', 'deleted', 'created', now(), now(), '{"kty":"EC"}', NULL)`)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.ConstraintName != "keys_deleted_no_public" {
		t.Fatalf("a new deleted row with a public key: %v", err)
	}
}
