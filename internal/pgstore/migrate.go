package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one embedded schema step.
type migration struct {
	Version int
	Name    string
	SQL     string
}

// migrations lists the embedded steps in order; SchemaVersion is the last.
// Parsed on first use, not at every keyctl start.
var migrations = sync.OnceValue(mustMigrations)

// SchemaVersion returns the schema this keyctl reads and writes.
func SchemaVersion() int { m := migrations(); return m[len(m)-1].Version }

func mustMigrations() []migration {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		panic(err)
	}
	var out []migration
	for _, e := range entries {
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			panic("pgstore: bad migration name " + e.Name())
		}
		sql, err := migrationFiles.ReadFile("migrations/" + e.Name())
		if err != nil {
			panic(err)
		}
		out = append(out, migration{Version: v, Name: name, SQL: string(sql)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i, m := range out {
		if m.Version != i+1 {
			panic(fmt.Sprintf("pgstore: migration %d is numbered %d", i+1, m.Version))
		}
	}
	return out
}

// migrateLockID is the advisory lock two migrators share ("keyctl" in ASCII).
const migrateLockID = 0x6b6579637466

// MigrateResult says what Migrate did.
type MigrateResult struct {
	From, To int
	Applied  []string
}

// Migrate creates or upgrades the schema to SchemaVersion. It runs under
// a transaction-level advisory lock, so two migrators never collide: the
// second waits, then finds nothing left to do. A database whose schema is
// newer than this keyctl knows is left alone, with a SchemaError.
func Migrate(ctx context.Context, conn *pgx.Conn) (*MigrateResult, error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrateLockID)); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS keyctl;
		CREATE TABLE IF NOT EXISTS keyctl.schema_migrations (
			version    integer PRIMARY KEY,
			name       text NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now(),
			applied_by text NOT NULL DEFAULT current_user)`); err != nil {
		return nil, err
	}
	var have int
	if err := tx.QueryRow(ctx, "SELECT COALESCE(max(version), 0) FROM keyctl.schema_migrations").Scan(&have); err != nil {
		return nil, err
	}
	res := &MigrateResult{From: have, To: have}
	if want := SchemaVersion(); have > want {
		return nil, &SchemaError{Have: have, Want: want}
	}
	for _, m := range migrations()[have:] {
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return nil, fmt.Errorf("migration %d (%s): %w", m.Version, m.Name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO keyctl.schema_migrations (version, name) VALUES ($1, $2)", m.Version, m.Name); err != nil {
			return nil, err
		}
		res.Applied = append(res.Applied, fmt.Sprintf("%04d_%s", m.Version, m.Name))
		res.To = m.Version
	}
	return res, tx.Commit(ctx)
}

// SchemaError reports a schema keyctl cannot use as it is: missing or
// older (run "keyctl db migrate"), or newer than this keyctl.
type SchemaError struct {
	Have, Want int
}

func (e *SchemaError) Error() string {
	switch {
	case e.Have == 0:
		return "the database has no keyctl schema"
	case e.Have < e.Want:
		return fmt.Sprintf("the database's keyctl schema is version %d; this keyctl needs %d", e.Have, e.Want)
	default:
		return fmt.Sprintf("the database's keyctl schema is version %d, newer than this keyctl knows (%d)", e.Have, e.Want)
	}
}

// Newer reports whether the database is ahead of this keyctl.
func (e *SchemaError) Newer() bool { return e.Have > e.Want }

const schemaVersionSQL = "SELECT COALESCE(max(version), 0) FROM keyctl.schema_migrations"

// schemaVersion reads the applied schema version (0: none).
func schemaVersion(ctx context.Context, q querier) (int, error) {
	var v int
	err := q.QueryRow(ctx, schemaVersionSQL).Scan(&v)
	return versionFrom(err, v)
}

// versionFrom is the schema version read as v with err: a missing table
// or schema is version 0.
func versionFrom(err error, v int) (int, error) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "42P01" || pgErr.Code == "3F000") {
		return 0, nil // undefined table or schema
	}
	return v, err
}

// checkSchema refuses a missing or older schema, and, for writers, a newer one.
func checkSchema(ctx context.Context, q querier, write bool) error {
	have, err := schemaVersion(ctx, q)
	return schemaFrom(err, have, write)
}

// schemaFrom is checkSchema on a version already read (with its error).
func schemaFrom(err error, have int, write bool) error {
	have, err = versionFrom(err, have)
	if err != nil {
		return err
	}
	if want := SchemaVersion(); have < want || (write && have > want) {
		return &SchemaError{Have: have, Want: want}
	}
	return nil
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}
