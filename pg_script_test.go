package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/keyctl/keyctl/internal/pgstore"
	"github.com/keyctl/keyctl/internal/pgtest"
)

// pgScripts are the end-to-end scripts that run a second time with the
// keyring in PostgreSQL (KEYCTL_KEYRING=postgres://..., a database of its
// own per script, sealed with a throw-away master key): every keyring
// command must behave the same, with the same output and exit codes, on
// either store. Scripts that look inside the keyring file (its bytes,
// its mode, its lock, or move its clock with keyringshift) are file-only.
var pgScripts = []string{
	"script/verify_keyring_locked.txtar",
	"scriptpg/*.txtar", // the PostgreSQL keyring's own scripts
}

func init() {
	scriptCmds["pgexec"] = cmdPGExec
	scriptCmds["pgreader"] = cmdPGReader
}

// cmdPGReader creates a read-only role for the script's database, with
// the grants docs/team.md gives serve's replicas (pgstore.ReaderGrants),
// and sets $READERURL to $PGURL logged in as that role. The role is
// dropped when the script ends.
func cmdPGReader(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: pgreader")
	}
	u, err := url.Parse(ts.Getenv("PGURL"))
	ts.Check(err)
	var b [6]byte
	rand.Read(b[:])
	role := "keyctl_reader_" + hex.EncodeToString(b[:])
	const password = "keyctl-test-throwaway-reader"
	for _, sql := range pgstore.ReaderGrants(role, password) {
		ts.Check(adminExec(ts.Getenv("PGURL"), sql))
	}
	admin := ts.Getenv("PGURL")
	ts.Defer(func() {
		adminExec(admin, "DROP OWNED BY "+role)
		adminExec(admin, "DROP ROLE IF EXISTS "+role)
	})
	u.User = url.UserPassword(role, password)
	ts.Setenv("READERURL", u.String())
}

// cmdPGExec runs SQL statements as the test cluster's superuser in the
// script's database ($PGURL): pgexec 'SQL' ['SQL' ...]. With ! it expects
// the first statement to fail.
func cmdPGExec(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) == 0 {
		ts.Fatalf("usage: pgexec SQL...")
	}
	u := ts.Getenv("PGURL")
	for _, sql := range args {
		err := adminExec(u, sql)
		if neg {
			if err == nil {
				ts.Fatalf("pgexec %q succeeded", sql)
			}
			ts.Logf("pgexec: %v", err)
			return
		}
		ts.Check(err)
	}
}

// TestScriptsPostgres runs pgScripts against a keyring in PostgreSQL.
func TestScriptsPostgres(t *testing.T) {
	admin := pgtest.AdminURL(t)
	t.Parallel()
	// One migrated template: each script's database is a copy of it.
	tmpl := pgtest.NewDatabase(t)
	s := pgstore.New(tmpl, pgstore.Options{})
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	tmplName := filepath.Base(mustParsePath(t, tmpl))
	var files []string
	for _, pat := range pgScripts {
		m, _ := filepath.Glob(filepath.Join("testdata", pat))
		files = append(files, m...)
	}
	mk := make([]byte, 32)
	rand.Read(mk)
	testscript.Run(t, testscript.Params{
		Files:               files,
		Cmds:                scriptCmds,
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Condition: func(cond string) (bool, error) {
			return cond == "pg", nil
		},
		Setup: func(env *testscript.Env) error {
			if err := scriptSetup(env); err != nil {
				return err
			}
			var b [6]byte
			rand.Read(b[:])
			name := "keyctl_script_" + hex.EncodeToString(b[:])
			if err := adminExec(admin, "CREATE DATABASE "+name+" TEMPLATE "+tmplName); err != nil {
				return err
			}
			env.Defer(func() { adminExec(admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
			u := pgtest.WithDatabase(admin, name)
			env.Setenv("KEYCTL_KEYRING", u)
			env.Setenv("PGURL", u)
			env.Setenv("KEYCTL_MASTER_KEY", base64.StdEncoding.EncodeToString(mk))
			return nil
		},
	})
}

func adminExec(admin, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

func mustParsePath(t *testing.T, u string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(u)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Database
}
