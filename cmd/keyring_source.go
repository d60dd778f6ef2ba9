package cmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/keyctl/keyctl/internal/keystore"
	"github.com/keyctl/keyctl/internal/pgstore"
	"github.com/keyctl/keyctl/internal/store"
	"github.com/keyctl/keyctl/internal/ui"
	"github.com/keyctl/keyctl/pkg/jwk"
	"github.com/keyctl/keyctl/pkg/jwt"
	"github.com/keyctl/keyctl/pkg/keyring"
)

// The keyring's contract with the rest of the command tree:
// keyringSigningKey (gen bearer-jwt), keyringVerificationKeys (verify),
// keyringPath and loadKeyringPublicSet (serve, jwks). Errors returned here
// are ready for the user: one line, with a hint where the next step is
// clear.

// keyringSigningKey returns the keyring's key in use, or the key named kid
// if its state lets it sign (standby or in use; never revoked or deleted).
// The key is private, with key_ops ["sign","verify"]. The legacy HS256
// secret comes back with KID "" so its tokens carry no kid, as Supabase's
// legacy API keys do. A missing keyring file is errNoKeyring. Only the key
// returned is parsed (and decrypted), so this stays fast with a large
// keyring.
func keyringSigningKey(f *Factory, kid string) (*jwk.Key, error) {
	k, _, err := keyringSigningKeyMax(f, kid)
	return k, err
}

// keyringSigningKeyMax is keyringSigningKey that also returns the keyring's
// max token lifetime, which gen bearer-jwt enforces.
func keyringSigningKeyMax(f *Factory, kid string) (*jwk.Key, time.Duration, error) {
	file, err := loadKeyring(f, false)
	if err != nil {
		return nil, 0, err
	}
	path := file.Path
	e, err := file.Keyring.SignableKey(kid)
	if err != nil {
		return nil, 0, keyringError(path, err)
	}
	k, err := e.Material.Private()
	if err != nil {
		return nil, 0, materialError(path, e.KID, err)
	}
	if e.State == keyring.Standby {
		// A standby key that signs must not be revoked or deleted at once
		// afterwards, as one that never signed may: the keyring records it
		// before the token exists.
		s, err := openKeyring(f, "", 0)
		if err != nil {
			return nil, 0, err
		}
		stamp := keyringStamp(f)
		if _, err := s.Update(context.Background(), false, func(kr *keyring.Keyring) error { return kr.MarkSigned(e.KID, stamp) }); err != nil {
			return nil, 0, withHint(fmt.Errorf("keyring %s: recording that standby key %s signs: %w", path, e.KID, pathless(err)),
				"a standby key signs only when the keyring can record it (its revocation then waits for the token); sign with the key in use, or from a writable keyring")
		}
	}
	out := &jwk.Key{KID: e.KID, Alg: e.Alg, Use: "sig", KeyOps: []string{jwk.OpSign, jwk.OpVerify}, Material: k.Material}
	if e.Legacy {
		out.KID = ""
	}
	return out, file.Keyring.Lifetime(), nil
}

// keyringVerificationKeys returns every key of the keyring with its state,
// revoked and deleted ones included, for `keyctl verify`'s default key
// source. Key.KID is the keyring kid (the legacy secret keeps its kid too;
// Legacy marks it). Key.Material is the public key for asymmetric keys, the
// secret for shared secrets in a trusted state, and nil for deleted keys
// and revoked shared secrets (a revoked secret is not decrypted). In an
// encrypted keyring the shared secrets need the passphrase
// (KEYCTL_PASSPHRASE, KEYCTL_PASSPHRASE_FILE or a prompt on a terminal);
// without one they are left out with a warning, and asymmetric keys still
// verify.
func keyringVerificationKeys(f *Factory) ([]jwt.TrustedKey, error) {
	file, err := loadKeyring(f, false)
	if err != nil {
		return nil, err
	}
	path := file.Path
	out := make([]jwt.TrustedKey, 0, len(file.Keyring.Keys))
	var skipped []string
	for _, e := range file.Keyring.Keys {
		tk := jwt.TrustedKey{State: string(e.State), Legacy: e.Legacy}
		k := &jwk.Key{KID: e.KID, Alg: e.Alg, Use: "sig", KeyOps: []string{jwk.OpVerify}}
		switch {
		case e.Material == nil:
		case !e.Symmetric():
			pub, err := e.Material.Public()
			if err != nil {
				return nil, materialError(path, e.KID, err)
			}
			k.Material = pub.Material
		case e.State.Trusted():
			secret, err := e.Material.Private()
			if errors.Is(err, store.ErrNeedPassphrase) {
				// Kept, locked: leaving it out would let a kid-less token
				// fall through to another key.
				skipped = append(skipped, e.KID)
				tk.Locked = true
				tk.Key = k
				out = append(out, tk)
				continue
			}
			if err != nil {
				return nil, materialError(path, e.KID, err)
			}
			k.Material = secret.Material
		}
		tk.Key = k
		out = append(out, tk)
	}
	if len(skipped) > 0 {
		f.IO.Warnf("keyring %s is encrypted: shared secret(s) %s cannot be used without a passphrase", path, strings.Join(skipped, ", "))
		f.IO.Hintf("set KEYCTL_PASSPHRASE (or KEYCTL_PASSPHRASE_FILE) to verify HS256 tokens")
	}
	return out, nil
}

// keyringPath returns the keyring file keyctl uses: --keyring,
// KEYCTL_KEYRING, the config file's "keyring", else
// $XDG_CONFIG_HOME/keyctl/keyring.json (the OS config directory when
// XDG_CONFIG_HOME is unset). A leading "~/" is the home directory. It works
// for commands without a --keyring flag too (gen bearer-jwt, verify).
func keyringPath(f *Factory) (string, error) {
	p := f.KeyringFlag
	if p == "" {
		p = envValue(f, "KEYCTL_KEYRING")
	}
	if p == "" {
		cfg, err := f.Config()
		if err != nil {
			return "", err
		}
		if v, _, ok := cfg.Lookup("keyring"); ok {
			p = v
		}
	}
	if p == "" {
		d, err := defaultKeyringFile(f)
		if err != nil {
			return "", err
		}
		p = d
	}
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home := envValue(f, "HOME"); home != "" {
			p = filepath.Join(home, rest)
		}
	}
	return p, nil
}

// defaultKeyringFile is the keyring when nothing names one:
// $XDG_CONFIG_HOME/keyctl/keyring.json, else the OS config directory's.
func defaultKeyringFile(f *Factory) (string, error) {
	dir := envValue(f, "XDG_CONFIG_HOME")
	if dir == "" {
		d, err := os.UserConfigDir()
		if err != nil {
			return "", withHint(fmt.Errorf("no keyring path: %v", err), "pass --keyring PATH or set KEYCTL_KEYRING")
		}
		dir = d
	}
	return filepath.Join(dir, "keyctl", "keyring.json"), nil
}

// loadKeyringPublicSet reads the keyring at path (a file path or a
// database URI) and returns its public JWKS (standby, in use and
// previously used asymmetric keys, public members only, key_ops
// ["verify"]) and where it was read, fit to print (a database URI without
// its password), for `keyctl jwks` and `keyctl serve`. It needs no secret
// and takes no lock; a keyring in PostgreSQL is read through its public
// views, as serve's replicas read it, so the read-only role is enough. A
// missing keyring is an error that matches errNoKeyring.
func loadKeyringPublicSet(f *Factory, path string) (*jwk.Set, string, error) {
	s, err := openKeyringAt(f, path, "", 0)
	if err != nil {
		return nil, "", err
	}
	if db, ok := keystore.Database(s); ok {
		ctx := context.Background()
		conn, err := db.Connect(ctx)
		if err != nil {
			return nil, "", keyringError(db.Location(), err)
		}
		defer conn.Close(context.Background())
		p, err := db.LoadPublished(ctx, conn)
		if err != nil {
			return nil, "", keyringError(db.Location(), err)
		}
		return p.Set, db.Location(), nil
	}
	file, err := s.Load(context.Background(), false)
	if err != nil {
		return nil, "", keyringError(s.Location(), err)
	}
	path = file.Path
	set, err := file.Keyring.PublicJWKS()
	if err != nil {
		return nil, "", keyringError(path, &store.CorruptError{Path: path, Err: err})
	}
	return set, path, nil
}

// materialError reports a key that could not be opened: a passphrase
// problem as such, anything else as a damaged keyring.
func materialError(path, kid string, err error) error {
	err = fmt.Errorf("key %q: %w", kid, err)
	if errors.Is(err, store.ErrNeedPassphrase) || errors.Is(err, store.ErrWrongPassphrase) || errors.Is(err, store.ErrEmptyPassphrase) ||
		errors.Is(err, pgstore.ErrNeedMasterKey) || errors.Is(err, pgstore.ErrWrongMasterKey) {
		return keyringError(path, err)
	}
	var he *HintError
	if errors.As(err, &he) {
		return err
	}
	return keyringError(path, &store.CorruptError{Path: path, Err: err})
}

func envValue(f *Factory, name string) string {
	if f.IO.Env == nil {
		return ""
	}
	v, _ := f.IO.Env(name)
	return v
}

// noKeyringError is a keyring file that does not exist. It matches
// errNoKeyring so callers with another key source can fall back.
type noKeyringError struct{ path string }

func (e *noKeyringError) Error() string { return "no keyring at " + e.path }
func (e *noKeyringError) Is(target error) bool {
	return target == errNoKeyring || target == store.ErrNotFound
}

// keyringError turns store and lifecycle errors into one-line messages with
// the hint a user needs, and a busy keyring into exit code 4.
func keyringError(path string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgstore.ErrNotFound) {
		return withHint(&noKeyringError{path: path}, "create one with \"keyctl keys create\" (a keyring in PostgreSQL needs a seal: KEYCTL_MASTER_KEY or a passphrase), or check --keyring-name")
	}
	if perr := pgError(path, err); perr != nil {
		return perr
	}
	var (
		busy     *store.BusyError
		perm     *store.PermissionError
		corrupt  *store.CorruptError
		version  *store.VersionError
		trans    *keyring.TransitionError
		early    *keyring.TooEarlyError
		amb      *keyring.AmbiguousRotationError
		unusable *keyring.NotUsableError
	)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return withHint(&noKeyringError{path: path}, "create one with \"keyctl keys create\", or point --keyring or KEYCTL_KEYRING at yours")
	case errors.As(err, &busy):
		return &ExitError{Code: ExitBusy, Err: withHint(err, "another keyctl is changing the keyring; try again, or wait longer with --lock-timeout")}
	case errors.As(err, &perm):
		return withHint(err, "make it private: chmod 600 %s", path)
	case errors.As(err, &version):
		return withHint(err, "upgrade keyctl; the keyring was left as it was")
	case errors.As(err, &corrupt):
		return withHint(err, "the keyring was left as it was; restore it from a backup, or fix it by hand")
	case errors.Is(err, store.ErrWrongPassphrase):
		return withHint(fmt.Errorf("keyring %s: %w", path, err), "nothing was changed; try again")
	case errors.Is(err, store.ErrNeedPassphrase):
		return withHint(fmt.Errorf("keyring %s: %w", path, err), "set KEYCTL_PASSPHRASE or KEYCTL_PASSPHRASE_FILE (keys commands also take --passphrase-file FILE)")
	case errors.As(err, &early) && early.Action == keyring.ActionDelete:
		return withHint(err, "deleting is safe from %s; --force deletes now", early.SafeAt.UTC().Format(time.RFC3339))
	case errors.As(err, &early):
		return withHint(err, "revoking is safe from %s; --force revokes now (an incident: tokens it signed stop verifying)", early.SafeAt.UTC().Format(time.RFC3339))
	case errors.As(err, &trans):
		return withHint(err, "%s", transitionHint(trans))
	case errors.As(err, &amb):
		return withHint(err, "name it, e.g. the newest: keyctl keys rotate %s", shellQuote(amb.Standby[len(amb.Standby)-1]))
	case errors.As(err, &unusable):
		return withHint(err, "list the keys that can sign: keyctl keys list")
	case errors.Is(err, keyring.ErrNoStandbyKey):
		return withHint(err, "create one first: keyctl keys create")
	case errors.Is(err, keyring.ErrNoSigningKey):
		return withHint(fmt.Errorf("keyring %s: %w", path, err), "put a key in use: keyctl keys rotate")
	case errors.Is(err, keyring.ErrUnknownKID):
		return withHint(err, "list the keys: keyctl keys list")
	case errors.Is(err, keyring.ErrKIDTaken):
		return withHint(err, "kids are never reused, even after delete; choose another --kid")
	case errors.Is(err, keyring.ErrDuplicateKey):
		return withHint(err, "the keyring already holds this key")
	case errors.Is(err, keyring.ErrLegacyDelete):
		return withHint(err, "--force deletes it: legacy API keys (anon, service_role) signed with it stop verifying for good")
	case errors.Is(err, keyring.ErrLegacyExists), errors.Is(err, keyring.ErrAlreadyInUse):
		return withHint(err, "migrate-legacy starts a keyring; use another --keyring for a fresh one")
	case errors.Is(err, keyring.ErrLegacyInUse):
		return withHint(err, "rotate to an asymmetric key first: keyctl keys rotate")
	}
	return err
}

// transitionHint says what to do instead of a refused move.
func transitionHint(e *keyring.TransitionError) string {
	kid := e.KID
	switch {
	case e.From == keyring.InUse && e.To == keyring.InUse:
		return "it already signs new tokens"
	case e.From == keyring.InUse:
		return "rotate another key into use first: keyctl keys rotate NEWKID"
	case e.From == keyring.Deleted:
		return "a deleted key is gone for good; create a new one: keyctl keys create"
	case e.To == keyring.InUse:
		return fmt.Sprintf("move it back to standby first: keyctl keys standby %s", shellQuote(kid))
	case e.To == keyring.Deleted && e.From == keyring.PreviouslyUsed:
		return fmt.Sprintf("revoke it first, once its tokens have expired: keyctl keys revoke %s", shellQuote(kid))
	case e.From == e.To:
		return "nothing to do"
	}
	return "see \"keyctl keys --help\" for the lifecycle"
}

// keyringPassphrase returns the passphrase source of an encrypted keyring,
// asked only when a private key must be opened or sealed: --passphrase-file
// (or KEYCTL_PASSPHRASE_FILE), else KEYCTL_PASSPHRASE, else a prompt when
// stdin and stderr are terminals. Scripts never wait on stdin.
func keyringPassphrase(f *Factory, path, file string) func() ([]byte, error) {
	return func() ([]byte, error) {
		if file == "" {
			file = envValue(f, "KEYCTL_PASSPHRASE_FILE")
		}
		if file != "" {
			return readPassphraseFile(file)
		}
		if p := envValue(f, "KEYCTL_PASSPHRASE"); p != "" {
			return []byte(p), nil
		}
		if !f.IO.CanPrompt() {
			return nil, store.ErrNeedPassphrase
		}
		return promptPassphrase(f.IO, fmt.Sprintf("Passphrase for keyring %s: ", path))
	}
}

func readPassphraseFile(file string) ([]byte, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, withHint(fmt.Errorf("passphrase file: %w", err), "--passphrase-file names a file holding the passphrase")
	}
	// One trailing newline is the file's, not the passphrase's.
	data = bytes.TrimSuffix(data, []byte("\n"))
	data = bytes.TrimSuffix(data, []byte("\r"))
	if len(data) == 0 {
		return nil, fmt.Errorf("passphrase file %s: %w", file, store.ErrEmptyPassphrase)
	}
	return data, nil
}

// promptPassphrase asks on stderr and reads without echo from a terminal
// stdin (a line from stdin when a test stands in for the terminal).
func promptPassphrase(io *ui.IO, question string) ([]byte, error) {
	fmt.Fprint(io.ErrOut, question)
	defer fmt.Fprintln(io.ErrOut)
	if in, ok := io.In.(*os.File); ok && term.IsTerminal(int(in.Fd())) {
		p, err := term.ReadPassword(int(in.Fd()))
		if err != nil {
			return nil, fmt.Errorf("read passphrase: %w", err)
		}
		return p, nil
	}
	var line []byte
	buf := make([]byte, 1)
	for len(line) < 4096 {
		n, err := io.In.Read(buf)
		if n == 1 {
			if buf[0] == '\n' {
				break
			}
			line = append(line, buf[0])
		}
		if err != nil {
			if len(line) == 0 {
				return nil, store.ErrNeedPassphrase
			}
			break
		}
	}
	return bytes.TrimSuffix(line, []byte("\r")), nil
}

// keyringActor names who makes a change, as user@host, for the history.
func keyringActor(f *Factory) string {
	name := envValue(f, "USER")
	if name == "" {
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
	}
	if name == "" {
		name = "unknown"
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	host, _, _ = strings.Cut(host, ".")
	return name + "@" + host
}

// keyringStamp is now, to the second, and the actor.
func keyringStamp(f *Factory) keyring.Stamp {
	return keyring.Stamp{At: f.Now().UTC().Truncate(time.Second), By: keyringActor(f)}
}
