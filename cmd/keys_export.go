package cmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyctl/keyctl/internal/keysfile"
	"github.com/keyctl/keyctl/internal/keystore"
	"github.com/keyctl/keyctl/internal/stack"
	"github.com/keyctl/keyctl/internal/store"
	"github.com/keyctl/keyctl/internal/ui"
	"github.com/keyctl/keyctl/pkg/keyring"
)

// --- keys export ---

type keysExportOptions struct {
	*keysCommon
	Format    string
	Out       string
	Force     bool
	Service   string
	formatSet bool
	pem       keysExportPEMOptions
}

func newKeysExportCmd(kc *keysCommon) *cobra.Command {
	o := &keysExportOptions{keysCommon: kc}
	c := &cobra.Command{
		Use:   "export [--format supabase|gotrue|services-jwks|env|pem] [--service NAME] [--kid KID] [--out PATH]",
		Short: "Write the keys Supabase loads: signing_keys.json, or every service's variable",
		Long: `Export the keyring as the JSON array of private JWKs that the Supabase CLI
and Supabase Auth load (supabase/signing_keys.json, GOTRUE_JWT_KEYS): the
key in use first with key_ops ["sign","verify"] (the Supabase CLI signs
with the first key), standby and previously used keys with ["verify"],
revoked and deleted keys left out, so Auth starts with exactly one signing
key. The legacy JWT secret is left out too (Supabase reads it from [auth]
jwt_secret). An EdDSA or HS256 key gets a warning: the Supabase CLI and
auth-js take ES256 and RS256 only.

Without --out the array is printed on stdout. --out writes it atomically,
mode 0600; an existing file is replaced after a question on a terminal, or
with --force. Restart Supabase Auth (supabase stop && supabase start) to
load it.

The stack's formats, for a whole Supabase stack (self-hosted compose, or
your own): --format gotrue is Auth's GOTRUE_JWT_KEYS (the key in use first
with ["sign","verify"], every other trusted key, the legacy secret too,
with ["verify"]); --format services-jwks is the JWKS that PostgREST
(PGRST_JWT_SECRET), Realtime (API_JWT_JWKS), Storage (JWT_JWKS) and Edge
Functions (SUPABASE_JWKS) verify with: public keys, plus every trusted HS256
secret as an oct key (the legacy one without kid, so legacy anon and
service_role tokens keep working). That JWKS then holds a secret: never
publish it.
--format env writes all five variables as a dotenv file that docker compose
(.env and env_file:) and a shell (set -a; . FILE) read alike; in an
existing --out (a compose project's .env) only those variables change,
every other line is kept byte for byte (a file that is not NAME=value lines
is refused without --force), and the file is replaced
atomically, so Auth started with --config-dir DIR reloads DIR/keyctl.env
without a restart (docs/guides/self-hosted.md). --service
auth|postgrest|realtime|storage|functions prints one service's value (with
--format env, its NAME='value' line). Revoked and deleted keys are left out,
and the command says which.

--format pem writes one key as PEM, for openssl, jsonwebtoken or
python-jose: --kid KID (default the key in use) as a PKCS#8 private key,
or with --public its SubjectPublicKeyInfo. With --out the file is mode
0600 (0644 for a public key). HS256 secrets have no PEM form.`,
		Example: `  keyctl keys export --format supabase --out supabase/signing_keys.json
  GOTRUE_JWT_KEYS="$(keyctl keys export --service auth)"
  keyctl keys export --format env --to ./volumes/auth/keyctl.env
  keyctl keys export --format pem --kid my-kid --out key.pem`,
		Args: noArgs(nil),
		RunE: func(c *cobra.Command, args []string) error {
			o.formatSet = c.Flags().Changed("format")
			o.Out = stdoutDash(o.Out)
			if err := checkOutNotDir(o.Out); err != nil {
				return err
			}
			if o.usesPEM(c) {
				return runKeysExportPEM(o)
			}
			if o.Format != "supabase" || o.Service != "" {
				return runKeysExportStack(o)
			}
			return runKeysExport(o)
		},
	}
	addKeyringFlag(c, kc.F)
	fl := c.Flags()
	fl.StringVar(&o.Format, "format", "supabase", "export format: supabase (signing_keys.json), gotrue, services-jwks, env or pem")
	fl.StringVar(&o.Out, "out", "", "write to this file instead of stdout (atomically, mode 0600)")
	fl.StringVar(&o.Out, "to", "", "the same as --out")
	fl.StringVar(&o.Service, "service", "", "one service's variable: auth, postgrest, realtime, storage or functions")
	fl.BoolVarP(&o.Force, "force", "f", false, "replace an existing --out file without asking")
	c.MarkFlagsMutuallyExclusive("out", "to")
	addKeysExportPEMFlags(c, o)
	_ = c.RegisterFlagCompletionFunc("format", cobra.FixedCompletions(exportFormats, cobra.ShellCompDirectiveNoFileComp))
	_ = c.RegisterFlagCompletionFunc("service", cobra.FixedCompletions(stack.ServiceNames(), cobra.ShellCompDirectiveNoFileComp))
	return c
}

func runKeysExport(o *keysExportOptions) error {
	if o.Format != "supabase" {
		return withHint(&UsageError{Err: fmt.Errorf("--format %q: not an export format", o.Format)}, "one of: supabase, gotrue, services-jwks, env, pem")
	}
	f, err := o.load(false)
	if err != nil {
		return err
	}
	if err := notTheKeyring(o.Out, f.Path); err != nil {
		return err
	}
	keys, err := f.Keyring.SupabaseExport()
	if err != nil {
		return keyringError(f.Path, err)
	}
	warnSupabaseAlgs(o.IO, keys)
	if legacy := f.Keyring.Legacy(); legacy != nil && legacy.State.Trusted() {
		o.IO.Warnf("the legacy JWT secret %s is not exported: Supabase reads it from [auth] jwt_secret", legacy.KID)
	}
	if o.Out == "" {
		data, err := keysfile.Marshal(keys)
		if err != nil {
			return err
		}
		_, err = o.IO.Out.Write(data)
		return err
	}
	if err := requireDir(o.Out); err != nil {
		return err
	}
	unlock, err := lockKeysFile(o.Out)
	if err != nil {
		return err
	}
	defer unlock()
	if err := confirmOverwrite(o.IO, o.Out, o.Force); err != nil {
		return err
	}
	if err := keysfile.Write(o.Out, keys); err != nil {
		return fmt.Errorf("write %s: %w", o.Out, err)
	}
	cur, _ := f.Keyring.SigningKey()
	o.IO.Infof("wrote %d key(s) to %s; %s signs", len(keys), o.Out, cur.KID)
	if ignored, known := gitIgnored(o.Out); known && !ignored {
		o.IO.Warnf("%s holds private keys and is not ignored by git", o.Out)
		o.IO.Hintf("add it to .gitignore: echo %s >> .gitignore", filepath.Base(o.Out))
	}
	return nil
}

// notTheKeyring refuses an --out that is the keyring's own file: an
// export written there, even with --force, would replace the keyring
// (its states, history and every other key) with what was exported.
func notTheKeyring(out, keyringPath string) error {
	if out == "" {
		return nil
	}
	a, err1 := os.Stat(out)
	b, err2 := os.Stat(keyringPath)
	if err1 != nil || err2 != nil || !os.SameFile(a, b) {
		return nil
	}
	return withHint(&UsageError{Err: fmt.Errorf("--out %s is the keyring itself: writing the export there would replace the keyring", out)},
		"choose another --out (for Supabase: supabase/signing_keys.json)")
}

// confirmOverwrite lets an existing non-empty file be replaced: with
// force, or after a yes on a terminal. Scripts never wait on stdin.
func confirmOverwrite(io *ui.IO, path string, force bool) error {
	st, err := os.Stat(path)
	if err != nil || st.Size() == 0 || force {
		return nil
	}
	if !io.CanPrompt() {
		return withHint(fmt.Errorf("%s already exists", path), "replace it with --force")
	}
	ok, err := ui.Confirm(io, fmt.Sprintf("Replace %s?", path), false)
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("nothing written")
	}
	return nil
}

// --- keys encrypt / decrypt ---

type keysEncryptOptions struct {
	*keysCommon
}

func newKeysEncryptCmd(kc *keysCommon) *cobra.Command {
	o := &keysEncryptOptions{keysCommon: kc}
	c := &cobra.Command{
		Use:   "encrypt",
		Short: "Protect the keyring's private keys with a passphrase",
		Long: `Encrypt every private key of the keyring (d, k and the other private
members) with a passphrase: PBES2-HS256+A128KW with 600,000 PBKDF2
iterations wraps a random data key, which encrypts each private JWK
(A256KW, A256GCM). Public members stay readable, so "keys list",
"keyctl jwks" and "keyctl serve" never need the passphrase; signing,
creating or importing keys, exporting and decrypting do.

The passphrase comes from --passphrase-file, KEYCTL_PASSPHRASE_FILE,
KEYCTL_PASSPHRASE, or a prompt on a terminal (asked twice).
"keyctl keys decrypt" undoes it.`,
		Example: `  keyctl keys encrypt
  KEYCTL_PASSPHRASE_FILE=~/.keyctl-pass keyctl keys encrypt`,
		Args: noArgs(nil),
		RunE: func(c *cobra.Command, args []string) error { return runKeysEncrypt(o) },
	}
	addKeyringFlag(c, kc.F)
	return c
}

func runKeysEncrypt(o *keysEncryptOptions) error {
	s, err := o.open()
	if err != nil {
		return err
	}
	path := s.Location()
	// Refuse an encrypted keyring before asking for a new passphrase (a
	// database keyring under a master key may be resealed under one).
	if f, err := s.Load(context.Background(), false); err != nil {
		return keyringError(path, err)
	} else if f.Seal == keystore.SealPassphrase {
		return withHint(fmt.Errorf("keyring %s: %w", path, store.ErrAlreadyEncrypted), "to change the passphrase: keyctl keys decrypt, then keyctl keys encrypt")
	}
	pass, err := newPassphrase(o.keysCommon, path)
	if err != nil {
		return err
	}
	if _, err := s.Encrypt(context.Background(), pass, o.stamp()); err != nil {
		if errors.Is(err, store.ErrAlreadyEncrypted) {
			return fmt.Errorf("keyring %s: %w", path, err)
		}
		return keyringError(path, err)
	}
	o.IO.Infof("encrypted the private keys of %s; public keys stay readable", path)
	o.IO.Hintf("commands that sign or add keys now need the passphrase: KEYCTL_PASSPHRASE, --passphrase-file or the prompt")
	return nil
}

// newPassphrase reads the passphrase to encrypt with: a file or the
// environment as for unlocking, else a prompt asked twice.
func newPassphrase(kc *keysCommon, path string) ([]byte, error) {
	file := kc.PassphraseFile
	if file == "" {
		file = envValue(kc.F, "KEYCTL_PASSPHRASE_FILE")
	}
	if file != "" || envValue(kc.F, "KEYCTL_PASSPHRASE") != "" || !kc.IO.CanPrompt() {
		p, err := keyringPassphrase(kc.F, path, file)()
		if errors.Is(err, store.ErrNeedPassphrase) {
			return nil, withHint(errors.New("no passphrase to encrypt with"), "set KEYCTL_PASSPHRASE, or pass --passphrase-file FILE")
		}
		return p, err
	}
	p, err := promptPassphrase(kc.IO, fmt.Sprintf("New passphrase for keyring %s: ", path))
	if err != nil {
		return nil, err
	}
	if len(p) == 0 {
		return nil, store.ErrEmptyPassphrase
	}
	again, err := promptPassphrase(kc.IO, "Repeat the passphrase: ")
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(p, again) {
		return nil, withHint(errors.New("the passphrases differ"), "nothing was changed; try again")
	}
	return p, nil
}

type keysDecryptOptions struct {
	*keysCommon
}

func newKeysDecryptCmd(kc *keysCommon) *cobra.Command {
	o := &keysDecryptOptions{keysCommon: kc}
	c := &cobra.Command{
		Use:   "decrypt",
		Short: "Store the keyring's private keys in the clear again",
		Long: `Remove the keyring's encryption: every private key is decrypted with the
passphrase (--passphrase-file, KEYCTL_PASSPHRASE_FILE, KEYCTL_PASSPHRASE or
a prompt) and stored in the clear; the file stays mode 0600. A wrong
passphrase changes nothing.`,
		Args: noArgs(nil),
		RunE: func(c *cobra.Command, args []string) error { return runKeysDecrypt(o) },
	}
	addKeyringFlag(c, kc.F)
	return c
}

func runKeysDecrypt(o *keysDecryptOptions) error {
	s, err := o.open()
	if err != nil {
		return err
	}
	path := s.Location()
	if _, err := s.Decrypt(context.Background(), o.stamp()); err != nil {
		if errors.Is(err, store.ErrNotEncrypted) {
			return withHint(fmt.Errorf("keyring %s: %w", path, err), "nothing to do: its private keys are already stored in the clear (keyctl keys encrypt seals them)")
		}
		return keyringError(path, err)
	}
	o.IO.Infof("decrypted the private keys of %s", path)
	return nil
}

// --- keys max-token-lifetime ---

type keysMaxTokenLifetimeOptions struct {
	*keysCommon
	Set string
}

func newKeysMaxTokenLifetimeCmd(kc *keysCommon) *cobra.Command {
	o := &keysMaxTokenLifetimeOptions{keysCommon: kc}
	c := &cobra.Command{
		Use:   "max-token-lifetime [DURATION]",
		Short: "Show or set the longest token lifetime, which times safe revocation",
		Long: `Show the keyring's max token lifetime, or set it to DURATION (a Go
duration: 30m, 1h, 24h). It is the longest lifetime of the tokens the
keyring's keys sign (default 1h, Supabase Auth's default access-token
lifetime): "keyctl keys revoke" waits this long plus 15 minutes after a key
is rotated out. Raise it if you mint longer-lived tokens. For a single
revocation, --max-token-lifetime (or KEYCTL_MAX_TOKEN_LIFETIME, or
max_token_lifetime in the config file) overrides it.`,
		Example: `  keyctl keys max-token-lifetime
  keyctl keys max-token-lifetime 24h`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 1 {
				return &UsageError{Err: fmt.Errorf("keys max-token-lifetime takes at most one DURATION (got %d arguments)", len(args))}
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Set = args[0]
			}
			return runKeysMaxTokenLifetime(o)
		},
	}
	addKeyringFlag(c, kc.F)
	return c
}

func runKeysMaxTokenLifetime(o *keysMaxTokenLifetimeOptions) error {
	if o.Set == "" {
		f, err := o.load(false)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(o.IO.Out, keyring.ShortDuration(f.Keyring.Lifetime()))
		return err
	}
	d, err := time.ParseDuration(o.Set)
	if err != nil {
		return withHint(&UsageError{Err: fmt.Errorf("%q is not a duration", o.Set)}, "write it as Go does: 30m, 1h, 24h")
	}
	if d < keyring.MinMaxTokenLifetime || d > keyring.MaxMaxTokenLifetime {
		return &UsageError{Err: fmt.Errorf("max token lifetime %s is out of range (%s to %s)", o.Set, keyring.MinMaxTokenLifetime, keyring.ShortDuration(keyring.MaxMaxTokenLifetime))}
	}
	var old time.Duration
	_, err = o.update(false, func(kr *keyring.Keyring) error {
		old = kr.Lifetime()
		return kr.SetMaxTokenLifetime(d, o.stamp())
	})
	if err != nil {
		return err
	}
	o.IO.Infof("max token lifetime is %s (was %s): a key rotated out can be revoked %s later", keyring.ShortDuration(d), keyring.ShortDuration(old), keyring.ShortDuration(d+keyring.RevocationGrace))
	return nil
}

// --- keys jwks-cache-window ---

type keysJWKSCacheWindowOptions struct {
	*keysCommon
	Set string
}

func newKeysJWKSCacheWindowCmd(kc *keysCommon) *cobra.Command {
	o := &keysJWKSCacheWindowOptions{keysCommon: kc}
	c := &cobra.Command{
		Use:   "jwks-cache-window [DURATION]",
		Short: "Show or set how long verifiers cache the JWKS, which times safe rotation",
		Long: `Show the keyring's JWKS cache window, or set it to DURATION (a Go duration:
10m, 20m, 1h). It is the longest time a verifier may keep a JWKS it fetched
(default 20m: Supabase's edge and client caches, 10 minutes each): "keyctl
keys rotate" refuses a standby key published for less than this while
another key is in use, since verifiers holding an older JWKS would reject
its tokens. Raise it if your verifiers cache longer.`,
		Example: `  keyctl keys jwks-cache-window
  keyctl keys jwks-cache-window 1h`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 1 {
				return &UsageError{Err: fmt.Errorf("keys jwks-cache-window takes at most one DURATION (got %d arguments)", len(args))}
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Set = args[0]
			}
			return runKeysJWKSCacheWindow(o)
		},
	}
	addKeyringFlag(c, kc.F)
	return c
}

func runKeysJWKSCacheWindow(o *keysJWKSCacheWindowOptions) error {
	if o.Set == "" {
		f, err := o.load(false)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(o.IO.Out, keyring.ShortDuration(f.Keyring.CacheWindow()))
		return err
	}
	d, err := time.ParseDuration(o.Set)
	if err != nil {
		return withHint(&UsageError{Err: fmt.Errorf("%q is not a duration", o.Set)}, "write it as Go does: 10m, 20m, 1h")
	}
	if d < keyring.MinJWKSCacheWindow || d > keyring.MaxJWKSCacheWindow {
		return &UsageError{Err: fmt.Errorf("JWKS cache window %s is out of range (%s to %s)", o.Set, keyring.MinJWKSCacheWindow, keyring.ShortDuration(keyring.MaxJWKSCacheWindow))}
	}
	var old time.Duration
	_, err = o.update(false, func(kr *keyring.Keyring) error {
		old = kr.CacheWindow()
		return kr.SetJWKSCacheWindow(d, o.stamp())
	})
	if err != nil {
		return err
	}
	o.IO.Infof("JWKS cache window is %s (was %s): a new key can be rotated into use %s after it is published", keyring.ShortDuration(d), keyring.ShortDuration(old), keyring.ShortDuration(d))
	return nil
}
