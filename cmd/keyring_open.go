package cmd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyctl/keyctl/internal/config"
	"github.com/keyctl/keyctl/internal/keystore"
	"github.com/keyctl/keyctl/internal/pgstore"
	"github.com/keyctl/keyctl/internal/safefile"
)

// The one place a command opens its keyring: openKeyring turns --keyring
// (a path, file:///path or postgres://...), --keyring-name and the secrets
// into a keystore.Store. Nothing else in cmd/ knows which store it talks
// to.

// keyringOpen are the flags, beside --keyring, that say how to open a
// keyring.
type keyringOpen struct {
	Name              string // --keyring-name
	MasterKeyFile     string // --master-key-file
	InsecurePlaintext bool   // --insecure-plaintext (keys commands)
}

// addKeyringFlag gives c the --keyring flag (also KEYCTL_KEYRING and the
// config file's "keyring") and the flags of a keyring in PostgreSQL.
func addKeyringFlag(c *cobra.Command, f *Factory) {
	c.Flags().StringVar(&f.KeyringFlag, "keyring", "", "keyring: a file path (default $XDG_CONFIG_HOME/keyctl/keyring.json) or postgres://... (docs/team.md)")
	config.Bind(c.Flags(), "keyring", "keyring")
	c.Flags().StringVar(&f.Open.Name, "keyring-name", "", "the keyring within a PostgreSQL database (also KEYCTL_KEYRING_NAME; default \"default\")")
	c.Flags().StringVar(&f.Open.MasterKeyFile, "master-key-file", "", "file holding the master key that seals a PostgreSQL keyring (also KEYCTL_MASTER_KEY_FILE or KEYCTL_MASTER_KEY)")
}

// openKeyring opens the keyring the command names. passphraseFile is
// --passphrase-file (keys commands), lockTimeout --lock-timeout (0: the
// store's default).
func openKeyring(f *Factory, passphraseFile string, lockTimeout time.Duration) (keystore.Store, error) {
	loc, err := keyringPath(f)
	if err != nil {
		return nil, err
	}
	return openKeyringAt(f, loc, passphraseFile, lockTimeout)
}

// openKeyringAt opens the keyring at loc (a path or a URI).
func openKeyringAt(f *Factory, loc, passphraseFile string, lockTimeout time.Duration) (keystore.Store, error) {
	name := f.Open.Name
	if name == "" && keystore.IsDatabase(loc) {
		// The variable names the keyring within a database; a file
		// keyring (one side of keys copy, a one-off --keyring ./x.json)
		// has no name and ignores it. --keyring-name with a file is
		// still an error.
		name = envValue(f, "KEYCTL_KEYRING_NAME")
	}
	o := keystore.Options{
		Name:              name,
		LockTimeout:       lockTimeout,
		InsecurePlaintext: f.Open.InsecurePlaintext,
		Warn:              f.IO.Warnf,
		Now:               f.Now,
		MasterKey:         masterKeySource(f),
	}
	where := loc
	if keystore.IsDatabase(loc) {
		where = pgstore.Redact(loc) + " (keyring " + orDefault(name, pgstore.DefaultName) + ")"
	}
	if passphraseFile != "" || envValue(f, "KEYCTL_PASSPHRASE_FILE") != "" || envValue(f, "KEYCTL_PASSPHRASE") != "" || f.IO.CanPrompt() || !keystore.IsDatabase(loc) {
		o.Passphrase = keyringPassphrase(f, where, passphraseFile)
	}
	s, err := keystore.Open(loc, o)
	if errors.Is(err, keystore.ErrNameWithFile) {
		return nil, &UsageError{Err: err}
	}
	if err != nil {
		return nil, withHint(&UsageError{Err: err}, "--keyring takes a path, file:///path or postgres://user@host/db")
	}
	return s, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// masterKeySource returns the master key source, or nil when none is
// configured: --master-key-file, KEYCTL_MASTER_KEY_FILE, KEYCTL_MASTER_KEY.
func masterKeySource(f *Factory) func() ([]byte, error) {
	file := f.Open.MasterKeyFile
	if file == "" {
		file = envValue(f, "KEYCTL_MASTER_KEY_FILE")
	}
	if file != "" {
		return func() ([]byte, error) {
			data, err := safefile.ReadFile(file, 4096, safefile.Policy{What: "master key file", Owner: true})
			if err != nil {
				return nil, withHint(fmt.Errorf("master key file: %w", err), "--master-key-file names a file holding 32 random bytes in base64 (keyctl db master-key prints one)")
			}
			k, err := pgstore.ParseMasterKey(string(data))
			if err != nil {
				return nil, withHint(fmt.Errorf("master key file %s: %w", file, err), "a master key is 32 random bytes in base64: openssl rand -base64 32")
			}
			return k, nil
		}
	}
	if v := envValue(f, "KEYCTL_MASTER_KEY"); v != "" {
		return func() ([]byte, error) {
			k, err := pgstore.ParseMasterKey(v)
			if err != nil {
				return nil, withHint(fmt.Errorf("KEYCTL_MASTER_KEY: %w", err), "a master key is 32 random bytes in base64: openssl rand -base64 32")
			}
			return k, nil
		}
	}
	return nil
}

// loadKeyring reads the keyring for a read-only use, with the passphrase
// source of a command without --passphrase-file.
func loadKeyring(f *Factory, history bool) (*keystore.Handle, error) {
	s, err := openKeyring(f, "", 0)
	if err != nil {
		return nil, err
	}
	h, err := s.Load(context.Background(), history)
	if err != nil {
		return nil, keyringError(s.Location(), err)
	}
	return h, nil
}

// pgError turns a PostgreSQL store's errors into one line and a hint.
// It returns nil for other errors.
func pgError(where string, err error) error {
	var (
		se *pgstore.SchemaError
		ce *pgstore.ConnError
		re *pgstore.RefusedError
	)
	switch {
	case errors.As(err, &se) && se.Newer():
		return withHint(err, "this keyctl is older than the database's schema: upgrade keyctl; nothing was changed")
	case errors.As(err, &se):
		return withHint(err, "create or upgrade the schema: keyctl db migrate --keyring URI")
	case errors.As(err, &ce) && strings.Contains(err.Error(), "waiting for another writer"):
		return &ExitError{Code: ExitBusy, Err: withHint(err, "another keyctl is changing the keyring; try again, or wait longer with --lock-timeout")}
	case errors.As(err, &re):
		return withHint(fmt.Errorf("keyring %s: %w", where, err), "nothing was changed; a hand-made change or an older schema may be in the way (keyctl db migrate --keyring URI brings the schema up to date)")
	case errors.As(err, &ce):
		return withHint(err, "nothing was changed; check the server, the URI and the libpq settings (PGHOST, PGUSER, PGPASSWORD, PGPASSFILE, PGSERVICE)")
	case errors.Is(err, pgstore.ErrNoSeal):
		return withHint(err, "set KEYCTL_MASTER_KEY (or --master-key-file) or KEYCTL_PASSPHRASE; --insecure-plaintext creates an unsealed keyring for throw-away use")
	case errors.Is(err, pgstore.ErrNeedMasterKey):
		return withHint(fmt.Errorf("keyring %s: %w", where, err), "set KEYCTL_MASTER_KEY or KEYCTL_MASTER_KEY_FILE (or pass --master-key-file FILE)")
	case errors.Is(err, pgstore.ErrWrongMasterKey):
		return withHint(fmt.Errorf("keyring %s: %w", where, err), "nothing was changed; check KEYCTL_MASTER_KEY or the master key file")
	case errors.Is(err, keystore.ErrKeepSeal):
		return withHint(err, "reseal it under a passphrase (keyctl keys encrypt) or a master key instead; --insecure-plaintext unseals it anyway")
	}
	return nil
}
