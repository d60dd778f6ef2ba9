package cmd

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keyctl/keyctl/internal/pgstore"
)

func newDBCmd(f *Factory) *cobra.Command {
	c := &cobra.Command{
		Use:   "db",
		Short: "Manage the schema of a keyring in PostgreSQL",
		Long: `Manage the PostgreSQL database that holds a team keyring (--keyring
postgres://...). See docs/team.md.`,
		Args: noArgs(nil),
	}
	c.AddCommand(newDBMigrateCmd(f))
	return c
}

type dbMigrateOptions struct {
	F *Factory
}

func newDBMigrateCmd(f *Factory) *cobra.Command {
	o := &dbMigrateOptions{F: f}
	c := &cobra.Command{
		Use:   "migrate",
		Short: "Create or upgrade keyctl's schema in the keyring's database",
		Long: `Create keyctl's schema (the keyctl.* tables, views and triggers) in the
database of --keyring postgres://..., or upgrade it to the version this
keyctl needs. The migrations are part of the binary and recorded in
keyctl.schema_migrations; they run in one transaction under an advisory
lock, so two migrators cannot collide. Running it again does nothing.

No other command changes the schema: on a missing or older schema they exit
with a hint to run this.

The connection honours libpq's environment (PGHOST, PGUSER, PGPASSWORD,
PGPASSFILE, PGSERVICE, PGSSLMODE, ...), so no password need be in the URI.`,
		Example: `  keyctl db migrate --keyring postgres://keyctl_admin@db.internal/keys
  KEYCTL_KEYRING=postgres:///keys PGSERVICE=keys keyctl db migrate`,
		Args: noArgs(nil),
		RunE: func(c *cobra.Command, args []string) error { return runDBMigrate(c, o) },
	}
	addKeyringFlag(c, f)
	return c
}

func runDBMigrate(c *cobra.Command, o *dbMigrateOptions) error {
	uri, err := keyringPath(o.F)
	if err != nil {
		return err
	}
	if !pgstore.IsURI(uri) {
		return withHint(fmt.Errorf("keyring %s is a file: there is no schema to migrate", pgstore.Redact(uri)),
			"keyctl db migrate works on a keyring in PostgreSQL: --keyring postgres://USER@HOST/DB")
	}
	s := pgstore.New(uri, pgstore.Options{})
	res, err := s.Migrate(c.Context())
	if err != nil {
		return dbError(err)
	}
	where := pgstore.Redact(uri)
	if len(res.Applied) == 0 {
		o.F.IO.Infof("the keyctl schema in %s is up to date (version %d)", where, res.To)
		return nil
	}
	o.F.IO.Infof("migrated the keyctl schema in %s from version %d to %d (%s)", where, res.From, res.To, strings.Join(res.Applied, ", "))
	return nil
}

// dbError adds the hint that fits a database failure.
func dbError(err error) error {
	var se *pgstore.SchemaError
	var ce *pgstore.ConnError
	switch {
	case errors.As(err, &se) && se.Newer():
		return withHint(err, "this keyctl is older than the schema: upgrade keyctl")
	case errors.As(err, &se):
		return withHint(err, "create or upgrade it with: keyctl db migrate")
	case errors.As(err, &ce):
		return withHint(err, "check the URI and libpq's PGHOST, PGUSER, PGPASSWORD/PGPASSFILE, PGSSLMODE; is the server up?")
	}
	return err
}
