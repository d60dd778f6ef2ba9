package cmd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keyctl/keyctl/internal/config"
	"github.com/keyctl/keyctl/internal/keysfile"
	"github.com/keyctl/keyctl/internal/store"
	"github.com/keyctl/keyctl/internal/ui"
	"github.com/keyctl/keyctl/pkg/jwk"
)

type genSigningKeyOptions struct {
	IO          *ui.IO
	Algorithm   string
	RSABits     int
	SecretBytes int
	KID         string
	KeysFile    string
	Append      bool
	InUse       bool
	Force       bool
	Format      string
	Public      bool
	Out         string

	// set holds the flags given on the command line, for refusing those
	// that do not apply (an algorithm from the config is not "given").
	set func(name string) bool
	// keyring names the keyring's location ("" when none), which --out
	// must not replace.
	keyring func() string
}

func newGenSigningKeyCmd(f *Factory) *cobra.Command {
	o := &genSigningKeyOptions{IO: f.IO, keyring: func() string { p, _ := keyringPath(f); return p }}
	c := &cobra.Command{
		Use:   "signing-key",
		Short: "Generate a JWT signing key as a JWK",
		Long: `Generate a private JWT signing key and print it as one compact JWK line.

The JWK has the members and member order the Supabase CLI prints (kty, kid,
use, key_ops, alg, ext, then the key material), a random UUID v4 kid unless
--kid is given, and always full-width P-256 and Ed25519 members.

With --keys-file the key goes into a Supabase-style signing_keys.json
instead: a JSON array of private JWKs, 2-space indented, mode 0600, created
if missing. keyctl keeps exactly one key with "sign" in key_ops there, so
Supabase Auth always starts: --append adds a standby key (key_ops
["verify"]) unless --in-use is given or no key signs yet; a new signing key
goes first (the Supabase CLI signs with the first key of the file). A file
already holding two signing keys takes only --in-use. Writers take
the file's lock (signing_keys.json.lock beside it), so CI jobs appending at
once each add their key.

With --out the key (and with --public the public key after it) goes to a
new file of mode 0600 instead of stdout; an existing file is replaced only
with --force.`,
		Example: `  keyctl gen signing-key --out key.json
  keyctl gen signing-key --algorithm RS256 --rsa-bits 3072
  keyctl gen signing-key --keys-file supabase/signing_keys.json --append
  keyctl gen signing-key --format pem --public`,
		Args: noArgs(func(arg string) string {
			if _, err := jwk.ParseAlgorithm(arg); err == nil {
				return "did you mean --algorithm " + arg + "?"
			}
			return ""
		}),
		RunE: func(c *cobra.Command, args []string) error {
			o.set = c.Flags().Changed
			o.Out = stdoutDash(o.Out)
			return runGenSigningKey(o)
		},
	}
	fl := c.Flags()
	fl.StringVarP(&o.Algorithm, "algorithm", "a", "ES256", "algorithm: ES256 (recommended), RS256, EdDSA or HS256 (any case)")
	fl.IntVar(&o.RSABits, "rsa-bits", 2048, "RSA modulus size for RS256 only: 2048, 3072 or 4096")
	fl.IntVar(&o.SecretBytes, "secret-bytes", jwk.MinSecretBytes, "secret size in bytes for HS256 only (at least 32)")
	fl.StringVar(&o.KID, "kid", "", "key ID (default a random UUID v4)")
	fl.StringVar(&o.KeysFile, "keys-file", "", "write to this signing_keys.json instead of stdout")
	fl.BoolVar(&o.Append, "append", false, "with --keys-file: add the key to the keys already there")
	fl.BoolVar(&o.InUse, "in-use", false, "with --append: make the new key the signing key")
	fl.BoolVarP(&o.Force, "force", "f", false, "with --keys-file or --out: overwrite a file that holds keys")
	fl.StringVar(&o.Out, "out", "", "write the key to this new file (mode 0600) instead of stdout")
	fl.StringVar(&o.Format, "format", "jwk", "output format: jwk or pem (PKCS#8)")
	fl.BoolVar(&o.Public, "public", false, "also print the public key (second line, or a second PEM block)")
	config.Bind(fl, "algorithm", "algorithm")
	c.MarkFlagsMutuallyExclusive("append", "force")
	c.MarkFlagsMutuallyExclusive("keys-file", "format")
	c.MarkFlagsMutuallyExclusive("keys-file", "public")
	c.MarkFlagsMutuallyExclusive("keys-file", "out")
	_ = c.RegisterFlagCompletionFunc("algorithm", completeAlgorithms)
	_ = c.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"jwk", "pem"}, cobra.ShellCompDirectiveNoFileComp))
	_ = c.RegisterFlagCompletionFunc("rsa-bits", cobra.FixedCompletions([]string{"2048", "3072", "4096"}, cobra.ShellCompDirectiveNoFileComp))
	return c
}

func completeAlgorithms(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return []string{"ES256\trecommended: ECDSA P-256", "RS256\tRSA 2048+", "EdDSA\tEd25519", "HS256\tshared secret, not recommended"}, cobra.ShellCompDirectiveNoFileComp
}

// parseAlgorithmFlag turns --algorithm into an Algorithm, as a usage error.
func parseAlgorithmFlag(s string) (jwk.Algorithm, error) {
	alg, err := jwk.ParseAlgorithm(s)
	if err != nil {
		return "", &UsageError{Err: fmt.Errorf("--algorithm: %w", err)}
	}
	return alg, nil
}

// refuseInapplicableKeyFlags refuses a key-size flag given on the command
// line (set reports which) for an algorithm it does not apply to, rather
// than ignore it. keys create can share it.
func refuseInapplicableKeyFlags(set func(string) bool, alg jwk.Algorithm) error {
	if set("rsa-bits") && alg != jwk.RS256 {
		return withHint(&UsageError{Err: fmt.Errorf("--rsa-bits applies to RS256 keys only, not %s", alg)}, "add --algorithm RS256, or leave --rsa-bits out")
	}
	if set("secret-bytes") && alg != jwk.HS256 {
		return withHint(&UsageError{Err: fmt.Errorf("--secret-bytes applies to HS256 secrets only, not %s", alg)}, "add --algorithm HS256, or leave --secret-bytes out")
	}
	return nil
}

func runGenSigningKey(o *genSigningKeyOptions) error {
	alg, err := parseAlgorithmFlag(o.Algorithm)
	if err != nil {
		return err
	}
	if o.set != nil {
		if err := refuseInapplicableKeyFlags(o.set, alg); err != nil {
			return err
		}
		if o.set("force") && o.KeysFile == "" && o.Out == "" {
			return withHint(&UsageError{Err: errors.New("--force applies with --keys-file or --out only")}, "leave --force out when printing the key")
		}
	}
	if o.Format != "jwk" && o.Format != "pem" {
		return &UsageError{Err: fmt.Errorf("--format %q: want jwk or pem", o.Format)}
	}
	if o.InUse && !o.Append {
		return &UsageError{Err: errors.New("--in-use only makes sense with --append")}
	}
	if o.Append && o.KeysFile == "" {
		return &UsageError{Err: errors.New("--append needs --keys-file")}
	}
	if alg == jwk.HS256 && o.Format == "pem" {
		return &UsageError{Err: errors.New("an HS256 shared secret has no PEM form; use --format jwk")}
	}
	if alg == jwk.HS256 && o.Public {
		return &UsageError{Err: errors.New("an HS256 shared secret has no public form")}
	}
	if o.KeysFile != "" {
		// Check the file before the (possibly slow) key generation.
		if _, err := prepareKeysFile(o); err != nil {
			return err
		}
	}
	if o.Out != "" {
		if err := checkOutFile(o.Out, o.Force); err != nil {
			return err
		}
		if o.keyring != nil {
			if err := notTheKeyring(o.Out, o.keyring()); err != nil {
				return err
			}
		}
	}
	key, err := jwk.Generate(alg, jwk.GenerateOptions{KID: o.KID, RSABits: o.RSABits, SecretBytes: o.SecretBytes})
	if err != nil {
		if errors.Is(err, jwk.ErrBadKID) {
			return checkKIDFlag("--kid", o.KID)
		}
		if errors.Is(err, jwk.ErrWeakKey) {
			if alg == jwk.RS256 {
				return withHint(&UsageError{Err: err}, "use --rsa-bits 2048, 3072 or 4096")
			}
			return withHint(&UsageError{Err: err}, "use --secret-bytes %d or more", jwk.MinSecretBytes)
		}
		return err
	}
	if alg == jwk.HS256 {
		o.IO.Warnf("HS256 shares one secret between signer and verifiers; prefer ES256")
	}
	if o.KeysFile != "" {
		return writeKeyToFile(o, key)
	}
	return printKey(o, key)
}

func printKey(o *genSigningKeyOptions, key *jwk.Key) error {
	out, err := encodeKey(o, key)
	if err != nil {
		return err
	}
	if o.Out == "" {
		_, err = o.IO.Out.Write(out)
		return err
	}
	if err := writePrivateFile(o.Out, out, o.Force); err != nil {
		return err
	}
	o.IO.Infof("wrote %s key %s to %s (mode 0600)", key.Alg, key.KID, o.Out)
	if ignored, known := gitIgnored(o.Out); known && !ignored {
		o.IO.Warnf("%s holds a private key and is not ignored by git", o.Out)
		o.IO.Hintf("add it to .gitignore: echo %s >> .gitignore", filepath.Base(o.Out))
	}
	return nil
}

// stdoutDash reads --out - as stdout, as "-" means stdin for every
// input flag: a private key never lands in a file named "-".
func stdoutDash(out string) string {
	if out == "-" {
		return ""
	}
	return out
}

// checkOutNotDir refuses an --out that names a directory before any work
// (and before any lock file is made beside it).
func checkOutNotDir(path string) error {
	if path == "" {
		return nil
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return withHint(fmt.Errorf("%s is a directory: not overwriting it", path), "give --out the path of a file")
	}
	return nil
}

// checkOutFile refuses --out PATH before any work when the file exists
// (without force), is a directory, or its directory is missing.
func checkOutFile(path string, force bool) error {
	if err := checkOutNotDir(path); err != nil {
		return err
	}
	_, err := os.Lstat(path)
	switch {
	case err == nil && !force:
		return withHint(fmt.Errorf("%s already exists: not overwriting it", path), "pass --force to replace it, or choose another --out")
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("--out %s: %w", path, pathless(err))
	}
	return requireDir(path)
}

// writePrivateFile writes data to path with mode 0600: through a temporary
// file in the same directory, linked into place so that an existing file
// (one created since checkOutFile looked) is never replaced without force,
// or renamed over it with force.
func writePrivateFile(path string, data []byte, force bool) error {
	if force {
		if err := store.WriteFileAtomic(path, data, 0o600); err != nil {
			return writeError(path, err)
		}
		return nil
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".keyctl-new-*")
	if err != nil {
		return writeError(path, err)
	}
	name := tmp.Name()
	defer os.Remove(name)
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return writeError(path, err)
	}
	if err := os.Link(name, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return withHint(fmt.Errorf("%s already exists: not overwriting it", path), "pass --force to replace it, or choose another --out")
		}
		return writeError(path, err)
	}
	return nil
}

// writeError says why path could not be written without naming keyctl's
// temporary file: most often the directory is not writable.
func writeError(path string, err error) error {
	if errors.Is(err, fs.ErrPermission) {
		dir := filepath.Dir(path)
		return withHint(fmt.Errorf("cannot write %s: directory %s is not writable", path, dir), "choose a directory you can write to, or fix its permissions")
	}
	return fmt.Errorf("write %s: %w", path, pathless(err))
}

// encodeKey is the key as printed: a JWK line or a PEM block, then the
// public key the same way with --public.
func encodeKey(o *genSigningKeyOptions, key *jwk.Key) ([]byte, error) {
	var out []byte
	var err error
	if o.Format == "pem" {
		out, err = key.MarshalPEM()
	} else {
		out, err = key.MarshalJSON()
		out = append(out, '\n')
	}
	if err != nil {
		return nil, err
	}
	if o.Public {
		pub, err := key.Public()
		if err != nil {
			return nil, err
		}
		var po []byte
		if o.Format == "pem" {
			po, err = pub.MarshalPEM()
		} else {
			po, err = pub.MarshalJSON()
			po = append(po, '\n')
		}
		if err != nil {
			return nil, err
		}
		out = append(out, po...)
	}
	return out, nil
}

// prepareKeysFile reads the keys already in the file, refusing what must not
// be touched. It returns the existing keys (nil for a new file).
func prepareKeysFile(o *genSigningKeyOptions) ([]*jwk.Key, error) {
	keys, err := keysfile.Read(o.KeysFile)
	switch {
	case errors.Is(err, keysfile.ErrNotFound):
		return nil, requireDir(o.KeysFile)
	case err != nil:
		return nil, withHint(fmt.Errorf("read keys file %s: %w", o.KeysFile, err), "%s", unpaddedHint(err, o.KeysFile, "the file was left as it was; fix it or choose another --keys-file"))
	}
	if len(keys) > 0 && !o.Append && !o.Force {
		if !o.IO.CanPrompt() {
			return nil, withHint(fmt.Errorf("%s already holds %d key(s)", o.KeysFile, len(keys)), "add to it with --append, or replace it with --force")
		}
		ok, err := ui.Confirm(o.IO, fmt.Sprintf("%s holds %d key(s). Replace them with the new key?", o.KeysFile, len(keys)), false)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, withHint(errors.New("nothing written"), "use --append to add the key instead")
		}
		o.Force = true
	}
	return keys, nil
}

func writeKeyToFile(o *genSigningKeyOptions, key *jwk.Key) error {
	if err := requireDir(o.KeysFile); err != nil {
		return err
	}
	// Read, add, write under the file's lock: two writers at once (CI jobs
	// appending keys) must not lose one's key.
	unlock, err := lockKeysFile(o.KeysFile)
	if err != nil {
		return err
	}
	defer unlock()
	existing, err := prepareKeysFile(o)
	if err != nil {
		return err
	}
	var keys []*jwk.Key
	signs := true
	if o.Append {
		keys, signs, err = keysfile.Append(existing, key, o.InUse)
		var many *keysfile.ManySignersError
		switch {
		case errors.As(err, &many):
			return withHint(fmt.Errorf("%s: %w", o.KeysFile, err), "nothing was written; add --in-use to make the new key the only signing key, or see keyctl supabase doctor")
		case err != nil:
			return &UsageError{Err: err}
		}
	} else {
		keys = []*jwk.Key{key.WithOps(jwk.OpSign, jwk.OpVerify)}
	}
	if err := keysfile.Write(o.KeysFile, keys); err != nil {
		return fmt.Errorf("write %s: %w", o.KeysFile, err)
	}
	warnSupabaseAlgs(o.IO, []*jwk.Key{key})
	role := "standby (verify only)"
	if signs {
		role = "signing key"
	}
	o.IO.Infof("wrote %s key %s as the %s to %s (now holds %d key(s))", key.Alg, key.KID, role, o.KeysFile, len(keys))
	if ignored, known := gitIgnored(o.KeysFile); known && !ignored {
		o.IO.Warnf("%s holds private keys and is not ignored by git", o.KeysFile)
		// The pattern covers the file's lock (FILE.lock) too.
		o.IO.Hintf("add it to .gitignore: echo '%s*' >> .gitignore", filepath.Base(o.KeysFile))
	}
	return nil
}

// lockKeysFile takes the lock every writer of a Supabase keys file takes
// (gen signing-key --keys-file, keys export --out), so none loses
// another's write.
func lockKeysFile(path string) (func(), error) {
	unlock, err := store.LockFile(path, "keys file", 0)
	var busy *store.BusyError
	switch {
	case errors.As(err, &busy):
		return nil, &ExitError{Code: ExitBusy, Err: withHint(err, "nothing was written; another keyctl is writing the file, try again")}
	case err != nil:
		return nil, err // its own hint, if any, says what to do
	}
	return unlock, nil
}

// requireDir checks that the directory a new file goes in exists, so the
// error names it rather than a temporary file.
func requireDir(path string) error {
	dir := filepath.Dir(path)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return withHint(fmt.Errorf("cannot create %s: directory %s does not exist", path, dir), "create it first: mkdir -p %s", dir)
	}
	return nil
}

// gitIgnored asks git whether path is ignored. known is false outside a git
// work tree or without git.
func gitIgnored(path string) (ignored, known bool) {
	dir := filepath.Dir(path)
	if _, err := exec.LookPath("git"); err != nil {
		return false, false
	}
	inside, err := exec.Command("git", "-C", dir, "rev-parse", "--is-inside-work-tree").Output()
	if err != nil || strings.TrimSpace(string(inside)) != "true" {
		return false, false
	}
	err = exec.Command("git", "-C", dir, "check-ignore", "-q", filepath.Base(path)).Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return true, true
	case errors.As(err, &ee) && ee.ExitCode() == 1:
		return false, true
	}
	return false, false
}
