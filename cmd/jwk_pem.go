package cmd

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/keyctl/keyctl/internal/keysfile"
	"github.com/keyctl/keyctl/internal/store"
	"github.com/keyctl/keyctl/pkg/jwk"
)

// The jwk group converts a key file between JWK and PEM, for the libraries
// and tools that take PEM (jsonwebtoken, python-jose, openssl).

func newJWKCmd(f *Factory) *cobra.Command {
	c := &cobra.Command{
		Use:   "jwk",
		Short: "Convert a key file between JWK and PEM",
		Args:  groupArgs,
		RunE:  groupRunE,
	}
	c.AddCommand(newJWKToPEMCmd(f), newJWKFromPEMCmd(f))
	return c
}

// keyFileArg checks for exactly one FILE argument.
func keyFileArg(what string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		name := c.CommandPath()[len("keyctl "):]
		switch {
		case len(args) == 0:
			return withHint(&UsageError{Err: fmt.Errorf("%s needs a FILE (%s, - for stdin)", name, what)}, "see \"%s --help\"", c.CommandPath())
		case len(args) > 1:
			return &UsageError{Err: fmt.Errorf("%s takes one FILE (got %d arguments)", name, len(args))}
		}
		return nil
	}
}

// --- jwk to-pem ---

// jwkPEMOptions are the options of jwk to-pem and from-pem.
type jwkPEMOptions struct {
	F      *Factory
	File   string
	KID    string
	Public bool
	Out    string
	Force  bool
}

type jwkToPEMOptions = jwkPEMOptions

func newJWKToPEMCmd(f *Factory) *cobra.Command {
	o := &jwkToPEMOptions{F: f}
	c := &cobra.Command{
		Use:   "to-pem FILE [--public] [--kid KID] [--out PATH]",
		Short: "Write a JWK as PEM: PKCS#8 for a private key, SPKI for a public key",
		Long: `Read a JWK from FILE ("-" for stdin) and print it as PEM: a private key as
PKCS#8 ("PRIVATE KEY"), a public key, or the public half with --public, as
SubjectPublicKeyInfo ("PUBLIC KEY"). These are the forms openssl pkey,
jsonwebtoken and python-jose read. FILE may hold several keys (a JSON
array, a JWKS, a signing_keys.json): --kid picks one.

An HS256 shared secret has no PEM form and is refused. --out writes the PEM
to a file instead of stdout, atomically, mode 0600 (0644 for a public key);
an existing file is replaced after a question on a terminal, or with
--force.`,
		Example: `  keyctl jwk to-pem key.json > key.pem
  keyctl jwk to-pem --public key.json | openssl pkey -pubin -noout -text
  keyctl jwk to-pem --kid my-kid supabase/signing_keys.json --out key.pem`,
		Args: keyFileArg("a JWK"),
		RunE: func(c *cobra.Command, args []string) error {
			o.File = args[0]
			o.Out = stdoutDash(o.Out)
			if err := checkOutNotDir(o.Out); err != nil {
				return err
			}
			return runJWKToPEM(o)
		},
	}
	fl := c.Flags()
	fl.BoolVar(&o.Public, "public", false, "write the public key (SPKI) only")
	fl.StringVar(&o.KID, "kid", "", "the key to convert when FILE holds several")
	fl.StringVar(&o.Out, "out", "", "write to this file instead of stdout (atomically, mode 0600)")
	fl.BoolVarP(&o.Force, "force", "f", false, "replace an existing --out file without asking")
	return c
}

func runJWKToPEM(o *jwkToPEMOptions) error {
	const hint = "FILE holds a JWK, a JSON array of JWKs or a JWKS"
	data, err := readKeyInput(o.F, o.File)
	if err != nil {
		return withHint(fmt.Errorf("read %s: %w", o.File, err), hint)
	}
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN")) {
		return withHint(fmt.Errorf("%s is PEM already", o.File), "to make a JWK of it: keyctl jwk from-pem %s", o.File)
	}
	keys, err := jwk.ParseAny(data)
	if err != nil {
		return withHint(fmt.Errorf("%s: %w", o.File, err), "%s", unpaddedHint(err, o.File, hint))
	}
	k, err := keysfile.Select(keys, o.KID)
	if err != nil {
		return withHint(fmt.Errorf("%s: %w", o.File, err), "list the kids with: jq -r '.. | .kid? // empty' %s", o.File)
	}
	if k.IsSymmetric() {
		return withHint(fmt.Errorf("%s: key %s is an HS256 shared secret, which has no PEM form", o.File, kidOrNone(k.KID)), "verifiers take the secret itself; keep it as a JWK")
	}
	if o.Public {
		if k, err = k.Public(); err != nil {
			return err
		}
	}
	out, err := k.MarshalPEM()
	if err != nil {
		return err
	}
	return writePEM(o.F, out, o.Out, o.Force, k.IsPrivate())
}

func kidOrNone(kid string) string {
	if kid == "" {
		return "(no kid)"
	}
	return fmt.Sprintf("%q", kid)
}

// writePEM prints out, or writes it to path: atomically, mode 0600 for a
// private key (0644 for a public one), replacing a file only with force or
// after a yes on a terminal.
func writePEM(f *Factory, out []byte, path string, force, private bool) error {
	if path == "" {
		_, err := f.IO.Out.Write(out)
		return err
	}
	if err := requireDir(path); err != nil {
		return err
	}
	if err := confirmOverwrite(f.IO, path, force); err != nil {
		return err
	}
	perm := os.FileMode(0o644)
	if private {
		perm = 0o600
	}
	if err := store.WriteFileAtomic(path, out, perm); err != nil {
		return fmt.Errorf("write %s: %w", path, pathless(err))
	}
	if private {
		f.IO.Infof("wrote the private key to %s (mode 0600)", path)
		if ignored, known := gitIgnored(path); known && !ignored {
			f.IO.Warnf("%s holds a private key and is not ignored by git", path)
		}
	} else {
		f.IO.Infof("wrote the public key to %s", path)
	}
	return nil
}

// --- jwk from-pem ---

type jwkFromPEMOptions = jwkPEMOptions

func newJWKFromPEMCmd(f *Factory) *cobra.Command {
	o := &jwkFromPEMOptions{F: f}
	c := &cobra.Command{
		Use:   "from-pem FILE [--kid KID] [--public] [--out PATH]",
		Short: "Write a PEM key as a JWK, with a kid",
		Long: `Read a PEM key from FILE ("-" for stdin) and print it as one JWK line, in
the envelope "keyctl gen signing-key" prints: use "sig", key_ops, alg (ES256
for P-256, RS256 for RSA, EdDSA for Ed25519) and a kid. The kid is --kid,
else the key's RFC 7638 thumbprint, which keyctl says on stderr; the same
key always gets the same thumbprint.

FILE holds PKCS#8 ("PRIVATE KEY"), PKCS#1 ("RSA PRIVATE KEY", "RSA PUBLIC
KEY"), SEC1 ("EC PRIVATE KEY", after an "EC PARAMETERS" block as openssl
ecparam -genkey writes it) or SubjectPublicKeyInfo ("PUBLIC KEY"). An
encrypted PKCS#8 key ("ENCRYPTED PRIVATE KEY", PBES2 with PBKDF2 and
AES-CBC, openssl's default) is decrypted with KEYCTL_PASSPHRASE_FILE,
KEYCTL_PASSPHRASE, or a passphrase asked for on a terminal.

--public prints the public half. --out writes to a file instead of stdout,
atomically, mode 0600 (0644 for a public key).`,
		Example: `  keyctl jwk from-pem key.pem > key.json
  keyctl jwk from-pem --kid prod-2026 key.pem
  openssl genpkey -algorithm ed25519 | keyctl jwk from-pem -`,
		Args: keyFileArg("a PEM key"),
		RunE: func(c *cobra.Command, args []string) error {
			o.File = args[0]
			o.Out = stdoutDash(o.Out)
			if err := checkOutNotDir(o.Out); err != nil {
				return err
			}
			return runJWKFromPEM(o)
		},
	}
	fl := c.Flags()
	fl.StringVar(&o.KID, "kid", "", "key ID (default the key's RFC 7638 thumbprint)")
	fl.BoolVar(&o.Public, "public", false, "write the public key only")
	fl.StringVar(&o.Out, "out", "", "write to this file instead of stdout (atomically, mode 0600)")
	fl.BoolVarP(&o.Force, "force", "f", false, "replace an existing --out file without asking")
	return c
}

func runJWKFromPEM(o *jwkFromPEMOptions) error {
	if err := jwk.CheckKID(o.KID); err != nil {
		return &UsageError{Err: fmt.Errorf("--kid: %w", err)}
	}
	const hint = "FILE holds one PEM key: PKCS#8, PKCS#1, SEC1 or SubjectPublicKeyInfo"
	data, err := readKeyInput(o.F, o.File)
	if err != nil {
		return withHint(fmt.Errorf("read %s: %w", o.File, err), hint)
	}
	if t := bytes.TrimSpace(data); bytes.HasPrefix(t, []byte("{")) || bytes.HasPrefix(t, []byte("[")) {
		return withHint(fmt.Errorf("%s is JSON, not PEM", o.File), "to make PEM of a JWK: keyctl jwk to-pem %s", o.File)
	}
	k, err := jwk.ParsePEMWithPassphrase(data, pemPassphrase(o.F, o.File))
	if err != nil {
		return pemError(o.File, err, hint)
	}
	if o.Public {
		if k, err = k.Public(); err != nil {
			return err
		}
	}
	k.Use = "sig"
	if k.IsPrivate() {
		k.KeyOps = []string{jwk.OpSign, jwk.OpVerify}
		k.Ext = true
	} else {
		k.KeyOps = []string{jwk.OpVerify}
	}
	k.KID = o.KID
	if k.KID == "" {
		if k.KID, err = k.Thumbprint(); err != nil {
			return err
		}
		o.F.IO.Infof("kid %s is the key's RFC 7638 thumbprint (choose another with --kid)", k.KID)
	}
	out, err := k.MarshalJSON()
	if err != nil {
		return err
	}
	return writePEM(o.F, append(out, '\n'), o.Out, o.Force, k.IsPrivate())
}

// pemError reports a PEM key keyctl cannot read: the library's own hint
// (the openssl command that converts the key) when it has one, else hint.
func pemError(path string, err error, hint string) error {
	err = fmt.Errorf("%s: %w", path, err)
	if errors.Is(err, jwk.ErrEncryptedPEM) {
		return err // the message says what to do
	}
	if errors.Is(err, jwk.ErrWrongPassphrase) {
		return withHint(err, "the passphrase comes from KEYCTL_PASSPHRASE_FILE, KEYCTL_PASSPHRASE or the prompt")
	}
	var h interface{ Hint() string }
	if errors.As(err, &h) && h.Hint() != "" {
		return withHint(err, "%s", pemFixFor(h.Hint(), path))
	}
	return withHint(err, "%s", hint)
}

// pemFixFor puts the file's name into the library's openssl command.
func pemFixFor(fix, path string) string {
	if path == "-" {
		return fix
	}
	return string(bytes.ReplaceAll([]byte(fix), []byte("KEY.pem"), []byte(pemQuote(path))))
}

// pemQuote quotes s for a POSIX shell when it needs it.
func pemQuote(s string) string {
	safe := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '/' || r == '-' || r == '_' || r == '+' || r == ',' || r == ':' || r == '@' || r == '%') {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + string(bytes.ReplaceAll([]byte(s), []byte("'"), []byte(`'\''`))) + "'"
}

// pemPassphrase returns the passphrase of an encrypted PEM key at path, from
// the sources the encrypted keyring reads: KEYCTL_PASSPHRASE_FILE,
// KEYCTL_PASSPHRASE, else a prompt on a terminal (not when the key itself
// came on stdin).
func pemPassphrase(f *Factory, path string) func() ([]byte, error) {
	return func() ([]byte, error) {
		if file := envValue(f, "KEYCTL_PASSPHRASE_FILE"); file != "" {
			return readPassphraseFile(file)
		}
		if p := envValue(f, "KEYCTL_PASSPHRASE"); p != "" {
			return []byte(p), nil
		}
		if path == "-" || !f.IO.CanPrompt() {
			return nil, &noPEMPassphraseError{path}
		}
		return promptPassphrase(f.IO, fmt.Sprintf("Passphrase for %s: ", path))
	}
}

// noPEMPassphraseError is an encrypted key with no passphrase to be had.
// The decrypt command is in the message: callers add hints of their own,
// which take precedence over a hint here.
type noPEMPassphraseError struct{ path string }

func (e *noPEMPassphraseError) Error() string {
	return "the key is encrypted and no passphrase was given (set KEYCTL_PASSPHRASE_FILE or KEYCTL_PASSPHRASE, or decrypt it: " +
		pemFixFor("openssl pkcs8 -in KEY.pem -out plain.pem", e.path) + ")"
}

func (e *noPEMPassphraseError) Is(target error) bool { return target == jwk.ErrEncryptedPEM }

// parseKeyData reads the keys in data, a key file the user named at path:
// as jwk.ParseAny (jwk.ParseRepairing when importing), and an encrypted
// PEM key with its passphrase.
func parseKeyData(f *Factory, path string, data []byte, repair bool) ([]*jwk.Key, error) {
	if !jwk.IsEncryptedPEM(data) {
		if repair {
			return jwk.ParseRepairing(data)
		}
		return jwk.ParseAny(data)
	}
	k, err := jwk.ParsePEMWithPassphrase(data, pemPassphrase(f, path))
	if err != nil {
		return nil, err
	}
	return []*jwk.Key{k}, nil
}
