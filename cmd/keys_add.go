package cmd

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyctl/keyctl/internal/config"
	"github.com/keyctl/keyctl/internal/keysfile"
	"github.com/keyctl/keyctl/internal/ui"
	"github.com/keyctl/keyctl/pkg/jwk"
	"github.com/keyctl/keyctl/pkg/keyring"
)

// --- keys create ---

type keysCreateOptions struct {
	*keysCommon
	Algorithm string
	KID       string
	RSABits   int
	set       func(name string) bool // flags given on the command line
}

func newKeysCreateCmd(kc *keysCommon) *cobra.Command {
	o := &keysCreateOptions{keysCommon: kc}
	c := &cobra.Command{
		Use:   "create",
		Short: "Create a standby key: published in the JWKS, signing nothing yet",
		Long: `Create a new signing key in the keyring, in standby: it is published by
"keyctl jwks" and trusted by "keyctl verify", but signs nothing until
"keyctl keys rotate" puts it in use. Publish it and let verifiers' JWKS
caches refresh before rotating to it.

The kid is a random UUID v4 unless --kid is given; kids are never reused,
even after delete. The kid is printed on stdout. The keyring is created
(mode 0600, directory 0700) if it does not exist.`,
		Example: `  keyctl keys create
  keyctl keys create --algorithm RS256 --rsa-bits 3072
  KID=$(keyctl keys create) && keyctl keys rotate "$KID"`,
		Args: noArgs(func(arg string) string {
			if _, err := jwk.ParseAlgorithm(arg); err == nil {
				return "did you mean --algorithm " + arg + "?"
			}
			return ""
		}),
		RunE: func(c *cobra.Command, args []string) error {
			o.set = c.Flags().Changed
			return runKeysCreate(o)
		},
	}
	addKeyringFlag(c, kc.F)
	fl := c.Flags()
	fl.StringVarP(&o.Algorithm, "algorithm", "a", "ES256", "algorithm: ES256 (recommended), RS256, EdDSA or HS256 (any case)")
	fl.StringVar(&o.KID, "kid", "", "key ID (default a random UUID v4)")
	fl.IntVar(&o.RSABits, "rsa-bits", 2048, "RSA modulus size for RS256: 2048, 3072 or 4096")
	config.Bind(fl, "algorithm", "algorithm")
	_ = c.RegisterFlagCompletionFunc("algorithm", completeAlgorithms)
	_ = c.RegisterFlagCompletionFunc("rsa-bits", cobra.FixedCompletions([]string{"2048", "3072", "4096"}, cobra.ShellCompDirectiveNoFileComp))
	return c
}

func runKeysCreate(o *keysCreateOptions) error {
	alg, err := parseAlgorithmFlag(o.Algorithm)
	if err != nil {
		return err
	}
	if o.set != nil {
		// A flag that does not apply is an error, never ignored.
		if err := refuseInapplicableKeyFlags(o.set, alg); err != nil {
			return err
		}
	}
	// Generate outside the lock: an RSA key can take a while.
	key, err := jwk.Generate(alg, jwk.GenerateOptions{KID: o.KID, RSABits: o.RSABits})
	if err != nil {
		if errors.Is(err, jwk.ErrWeakKey) {
			return &UsageError{Err: err}
		}
		return err
	}
	return o.addKey(key, "created", func(kr *keyring.Keyring, k *jwk.Key, s keyring.Stamp) (*keyring.Entry, error) {
		return kr.Create(k, s)
	})
}

// addKey adds a new standby key to the keyring with add (Create or
// Import), prints its kid and says what to do next.
func (o *keysCommon) addKey(key *jwk.Key, verb string, add func(*keyring.Keyring, *jwk.Key, keyring.Stamp) (*keyring.Entry, error)) error {
	if key.IsSymmetric() {
		o.IO.Warnf("HS256 shares one secret between signer and verifiers, and is never published in the JWKS; prefer ES256")
	}
	var inUse, retired *keyring.Entry
	var window time.Duration
	_, err := o.update(true, func(kr *keyring.Keyring) error {
		window = kr.CacheWindow()
		var err error
		if retired, err = kr.Retired(key); err != nil {
			return err
		}
		if _, err := add(kr, key, o.stamp()); err != nil {
			return err
		}
		inUse, _ = kr.SigningKey()
		return nil
	})
	if err != nil {
		return retiredError(err)
	}
	warnRetired(o.IO.Warnf, key.KID, retired)
	fmt.Fprintln(o.IO.Out, key.KID)
	o.IO.Infof("%s %s key %s in standby", verb, key.Alg, key.KID)
	addedHint(o.IO.Hintf, key, inUse, window)
	return nil
}

// addedHint tells what to do with a new standby key.
func addedHint(hintf func(string, ...any), key *jwk.Key, inUse *keyring.Entry, window time.Duration) {
	kid := key.KID
	switch {
	case inUse == nil:
		hintf("put it in use: keyctl keys rotate %s", shellQuote(kid))
	case key.IsSymmetric():
		// A shared secret is never published in a JWKS.
		hintf("give the secret to every verifier first (it is never published), then: keyctl keys rotate %s", shellQuote(kid))
	default:
		hintf("publish it (keyctl jwks or keyctl serve), wait for JWKS caches (%s), then: keyctl keys rotate %s", keyring.ShortDuration(window), shellQuote(kid))
	}
}

// retiredError gives a RetiredKeyError its way out.
func retiredError(err error) error {
	var re *keyring.RetiredKeyError
	if !errors.As(err, &re) {
		return err
	}
	if re.State == keyring.Revoked {
		return withHint(err, "to trust it again: keyctl keys standby %s; --force brings it in under the new kid anyway", shellQuote(re.KID))
	}
	return withHint(err, "it was deleted on purpose; --force brings it back under the new kid anyway")
}

// warnRetired says, after a forced import, which revoked or deleted key
// came back.
func warnRetired(warnf func(string, ...any), kid string, retired *keyring.Entry) {
	if retired != nil {
		warnf("%s is the key of %s key %s, brought back with --force: it is trusted again", kid, retired.State.Label(), retired.KID)
	}
}

// --- keys import ---

type keysImportOptions struct {
	*keysCommon
	File       string
	SecretFile string
	KID        string
	Force      bool
}

func newKeysImportCmd(kc *keysCommon) *cobra.Command {
	o := &keysImportOptions{keysCommon: kc}
	c := &cobra.Command{
		Use:   "import FILE | --secret-file FILE",
		Short: "Import a private key (JWK or PEM) or a shared secret as a standby key",
		Long: `Import a private key into the keyring as a standby key, as Supabase's
dashboard imports keys. FILE ("-" for stdin) holds one private JWK, or one
PEM private key: PKCS#8 ("PRIVATE KEY"), PKCS#1 ("RSA PRIVATE KEY") or SEC1
("EC PRIVATE KEY"). --secret-file imports a shared secret (HS256): the
file's bytes, without a trailing newline, at least 32 of them (RFC 7518
section 3.2).

The kid is --kid, else the JWK's kid, else the key's RFC 7638 thumbprint (the
kid "keyctl gen bearer-jwt --key FILE" gives the same key; a shared secret
gets a random UUID v4); it is printed
on stdout. Key material already in the keyring, and kids already used
(even by deleted keys), are refused. So is the key of a revoked or deleted
key under a new kid (a deleted key's tombstone keeps its RFC 7638
thumbprint, a deleted secret's a salted PBKDF2 check value, which takes
about 0.1 s to compare): --force brings it back, with a warning naming
that key. For a
Supabase signing_keys.json use "keyctl keys import-supabase".`,
		Example: `  keyctl keys import key.json
  keyctl keys import --kid prod-2026 key.pem
  keyctl keys import --secret-file hs256-secret.txt`,
		Args: func(c *cobra.Command, args []string) error {
			switch {
			case len(args) > 1:
				return &UsageError{Err: fmt.Errorf("keys import takes one FILE (got %d arguments)", len(args))}
			case len(args) == 1 && o.SecretFile != "":
				return &UsageError{Err: errors.New("give FILE or --secret-file, not both")}
			case len(args) == 0 && o.SecretFile == "":
				return withHint(&UsageError{Err: errors.New("keys import needs a FILE (a private JWK or PEM key) or --secret-file")}, "keyctl keys import key.json")
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.File = args[0]
			}
			return runKeysImport(o)
		},
	}
	addKeyringFlag(c, kc.F)
	fl := c.Flags()
	fl.StringVar(&o.SecretFile, "secret-file", "", "import a shared secret (HS256) from this file (- for stdin)")
	fl.StringVar(&o.KID, "kid", "", "key ID (default the JWK's kid, else its RFC 7638 thumbprint)")
	fl.BoolVarP(&o.Force, "force", "f", false, "import even the key of a revoked or deleted key")
	return c
}

func runKeysImport(o *keysImportOptions) error {
	var key *jwk.Key
	var err error
	if o.SecretFile != "" {
		key, err = readSecretKey(o.F, o.SecretFile, "--secret-file")
	} else {
		key, err = readPrivateKeyFile(o.F, o.File)
	}
	if err != nil {
		return err
	}
	if o.KID != "" {
		key.KID = o.KID
	}
	// A kid-less key gets its thumbprint, the kid gen bearer-jwt --key
	// gives the same key, so tokens minted from the file verify against
	// the keyring's JWKS.
	if key, _, err = key.WithDefaultKID(); err != nil {
		return err
	}
	if key.KID == "" {
		key.KID = jwk.NewKID()
	}
	return o.addKey(key, "imported", func(kr *keyring.Keyring, k *jwk.Key, s keyring.Stamp) (*keyring.Entry, error) {
		return kr.Import(k, s, keyring.Options{Force: o.Force})
	})
}

// readPrivateKeyFile reads one private key from a JWK or PEM file.
func readPrivateKeyFile(f *Factory, path string) (*jwk.Key, error) {
	const hint = "FILE holds one private key: a JWK, or PEM (PKCS#8, PKCS#1 or SEC1)"
	data, err := readKeyInput(f, path)
	if err != nil {
		return nil, withHint(fmt.Errorf("read %s: %w", path, err), hint)
	}
	keys, err := parseKeyData(f, path, data, true)
	if err != nil {
		return nil, withHint(fmt.Errorf("%s: %w", path, err), hint)
	}
	notePadded(f.IO, path, keys)
	if len(keys) != 1 {
		return nil, withHint(fmt.Errorf("%s holds %d keys; import one at a time", path, len(keys)), "for a Supabase signing_keys.json: keyctl keys import-supabase %s", shellQuote(path))
	}
	k := keys[0]
	if !k.IsPrivate() {
		return nil, withHint(fmt.Errorf("%s is a public key; the keyring signs, so it holds private keys", path), "import the private key (verify against a public key with keyctl verify --key)")
	}
	return k, nil
}

// readSecretKey reads a shared secret: the file's bytes without one
// trailing newline.
func readSecretKey(f *Factory, path, flag string) (*jwk.Key, error) {
	data, err := readKeyInput(f, path)
	if err != nil {
		return nil, withHint(fmt.Errorf("read %s: %w", path, err), "%s names a file holding the secret", flag)
	}
	return secretKey(data, flag)
}

func secretKey(data []byte, source string) (*jwk.Key, error) {
	data = bytes.TrimSuffix(data, []byte("\n"))
	data = bytes.TrimSuffix(data, []byte("\r"))
	k, err := jwk.FromCrypto(bytes.Clone(data))
	if err != nil {
		return nil, withHint(fmt.Errorf("%s: %w", source, err), "an HS256 secret has at least %d bytes; make one with: openssl rand -base64 32", jwk.MinSecretBytes)
	}
	return k, nil
}

// --- keys migrate-legacy ---

type keysMigrateLegacyOptions struct {
	*keysCommon
	SecretFile string
	SecretEnv  string
	Algorithm  string
	KID        string
	StandbyKID string
	Force      bool
}

func newKeysMigrateLegacyCmd(kc *keysCommon) *cobra.Command {
	o := &keysMigrateLegacyOptions{keysCommon: kc}
	c := &cobra.Command{
		Use:   "migrate-legacy --secret-file FILE | --secret-env NAME",
		Short: "Start a keyring from a legacy HS256 JWT secret, with a standby key to rotate to",
		Long: `Bring a legacy HS256 JWT secret (Supabase's "legacy JWT secret") into a new
keyring, as Supabase's "Getting started" with signing keys does: the secret
becomes the key in use, marked legacy, and a new standby key (ES256 unless
--algorithm) is created to rotate to.

The legacy secret signs tokens without a kid and verifies tokens that carry
none, as Supabase's anon and service_role API keys are. Long-lived API
keys outlive the keyring's max token lifetime, which gen bearer-jwt
enforces: keep the ones you have, or mint them from the secret as a --key
file (keyctl supabase init-self-hosted --legacy writes a new set). Deleting
it later needs --force, as on the platform.`,
		Example: `  keyctl keys migrate-legacy --secret-file jwt-secret.txt
  keyctl keys migrate-legacy --secret-env SUPABASE_JWT_SECRET
  keyctl keys rotate   # then rotate to the new key`,
		Args: noArgs(nil),
		RunE: func(c *cobra.Command, args []string) error { return runKeysMigrateLegacy(o) },
	}
	addKeyringFlag(c, kc.F)
	fl := c.Flags()
	fl.StringVar(&o.SecretFile, "secret-file", "", "file holding the legacy JWT secret (- for stdin)")
	fl.StringVar(&o.SecretEnv, "secret-env", "", "environment variable holding the legacy JWT secret")
	fl.StringVarP(&o.Algorithm, "algorithm", "a", "ES256", "algorithm of the standby key to rotate to: ES256, RS256 or EdDSA")
	fl.StringVar(&o.KID, "kid", "", "kid of the legacy secret in the keyring (default a random UUID v4)")
	fl.StringVar(&o.StandbyKID, "standby-kid", "", "kid of the new standby key (default a random UUID v4)")
	fl.BoolVarP(&o.Force, "force", "f", false, "take the secret even if it is the key of a revoked or deleted key")
	c.MarkFlagsMutuallyExclusive("secret-file", "secret-env")
	c.MarkFlagsOneRequired("secret-file", "secret-env")
	_ = c.RegisterFlagCompletionFunc("algorithm", completeAlgorithms)
	return c
}

func runKeysMigrateLegacy(o *keysMigrateLegacyOptions) error {
	alg, err := parseAlgorithmFlag(o.Algorithm)
	if err != nil {
		return err
	}
	if alg.Symmetric() {
		return &UsageError{Err: errors.New("--algorithm: the key to rotate to must be asymmetric (ES256, RS256 or EdDSA)")}
	}
	var secret *jwk.Key
	if o.SecretFile != "" {
		secret, err = readSecretKey(o.F, o.SecretFile, "--secret-file")
	} else {
		v := envValue(o.F, o.SecretEnv)
		if v == "" {
			return withHint(fmt.Errorf("--secret-env: %s is not set or empty", o.SecretEnv), "export it first, or use --secret-file")
		}
		secret, err = secretKey([]byte(v), "--secret-env "+o.SecretEnv)
	}
	if err != nil {
		return err
	}
	secret.KID = o.KID
	if secret.KID == "" {
		secret.KID = jwk.NewKID()
	}
	next, err := jwk.Generate(alg, jwk.GenerateOptions{KID: o.StandbyKID})
	if err != nil {
		return err
	}
	var retired *keyring.Entry
	var window time.Duration
	_, err = o.update(true, func(kr *keyring.Keyring) error {
		window = kr.CacheWindow()
		if retired, err = kr.Retired(secret); err != nil {
			return err
		}
		_, _, err := kr.MigrateLegacy(secret, next, o.stamp(), keyring.Options{Force: o.Force})
		return err
	})
	if err != nil {
		return retiredError(err)
	}
	warnRetired(o.IO.Warnf, secret.KID, retired)
	o.IO.Infof("legacy JWT secret %s is in use (HS256, tokens without kid); %s key %s is in standby", secret.KID, next.Alg, next.KID)
	o.IO.Hintf("publish the new key (keyctl jwks), wait for JWKS caches (%s), then: keyctl keys rotate %s", keyring.ShortDuration(window), shellQuote(next.KID))
	return nil
}

// --- keys import-supabase ---

type keysImportSupabaseOptions struct {
	*keysCommon
	File  string
	Force bool
}

func newKeysImportSupabaseCmd(kc *keysCommon) *cobra.Command {
	o := &keysImportSupabaseOptions{keysCommon: kc}
	c := &cobra.Command{
		Use:   "import-supabase FILE",
		Short: "Read a Supabase signing_keys.json into the keyring",
		Long: `Read a Supabase signing_keys.json (the array "keyctl keys export --format
supabase" writes and Supabase Auth loads) into the keyring: every key joins
in standby, and the key whose key_ops hold "sign" is rotated into use (the
key in use before becomes previously used). Keys the keyring already holds
under the same kid are recognised and left as they are; a kid that names a
different key is refused, and then nothing is imported; so is the key of a
revoked or deleted key under a new kid, and, while another key is in use,
putting a signer the keyring did not hold in use (verifiers' cached JWKS do
not know it yet; see "keyctl keys rotate"), unless --force.`,
		Example: `  keyctl keys import-supabase supabase/signing_keys.json`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return withHint(&UsageError{Err: fmt.Errorf("keys import-supabase takes one FILE (got %d arguments)", len(args))}, "keyctl keys import-supabase supabase/signing_keys.json")
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			o.File = args[0]
			return runKeysImportSupabase(o)
		},
	}
	addKeyringFlag(c, kc.F)
	c.Flags().BoolVarP(&o.Force, "force", "f", false, "import even keys of revoked or deleted keys, and rotate to a new signer at once")
	return c
}

// notePadded says which keys were read with P-256 members an older
// Supabase CLI wrote short, and padded (jwk.ParseRepairing).
func notePadded(io *ui.IO, path string, keys []*jwk.Key) {
	for _, k := range keys {
		if m := k.PaddedMembers(); len(m) > 0 {
			io.Infof("%s: key %s: padded %s to 32 bytes (an older Supabase CLI wrote it without its left zero bytes; Supabase Auth refuses it so, keyctl writes it back whole)", path, kidOrNone(k.KID), strings.Join(m, ", "))
		}
	}
}

func runKeysImportSupabase(o *keysImportSupabaseOptions) error {
	keys, err := keysfile.ReadRepairing(o.File)
	if errors.Is(err, keysfile.ErrNotFound) {
		return withHint(err, "export one from a keyring with: keyctl keys export --format supabase --out %s", o.File)
	}
	if err != nil {
		return withHint(fmt.Errorf("read %s: %w", o.File, err), "the file must be a JSON array of private JWKs, as Supabase's signing_keys.json is")
	}
	if len(keys) == 0 {
		return fmt.Errorf("%s holds no keys", o.File)
	}
	notePadded(o.F.IO, o.File, keys)
	for _, k := range keys {
		if k.KID == "" {
			k.KID = jwk.NewKID()
		}
	}
	var res *keyring.SupabaseImport
	retired := map[string]*keyring.Entry{}
	_, err = o.update(true, func(kr *keyring.Keyring) error {
		for _, k := range keys {
			if _, err := kr.Lookup(k.KID); err == nil {
				continue // recognised by kid, not a new key
			}
			r, err := kr.Retired(k)
			if err != nil {
				return err
			}
			retired[k.KID] = r
		}
		res, err = kr.ImportSupabase(keys, o.stamp(), keyring.Options{Force: o.Force})
		return err
	})
	if err != nil {
		return rotationError(retiredError(err))
	}
	for _, k := range keys {
		warnRetired(o.IO.Warnf, k.KID, retired[k.KID])
	}
	o.IO.Infof("imported %d key(s) from %s (%d already in the keyring)", len(res.Added), o.File, len(res.Unchanged))
	switch {
	case res.InUse != nil && res.Previous != nil:
		o.IO.Infof("%s is in use; %s is previously used", res.InUse.KID, res.Previous.KID)
	case res.InUse != nil:
		o.IO.Infof("%s is in use", res.InUse.KID)
	default:
		o.IO.Hintf("no key of the file signs; put one in use: keyctl keys rotate KID")
	}
	return nil
}
