package cmd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/keyctl/keyctl/internal/keysfile"
	"github.com/keyctl/keyctl/internal/safefile"
	"github.com/keyctl/keyctl/pkg/jwk"
	"github.com/keyctl/keyctl/pkg/jwt"
)

// errNoKeyring is returned by keyringSigningKey when there is no keyring.
var errNoKeyring = errors.New("no keyring")

// pathless drops the path from an *fs.PathError whose path the message
// already names ("read key /tmp: is a directory", not "... read /tmp: ...").
func pathless(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// readKeyInput reads FILE, or stdin for "-", bounded in size. FILE holds a
// key keyctl signs or verifies with, so it must be a regular file (a FIFO
// is refused without blocking) owned by the user or root, in a directory
// no one else can write.
func readKeyInput(f *Factory, path string) ([]byte, error) {
	var r io.Reader
	if path == "-" {
		r = f.IO.In
	} else {
		file, _, err := safefile.Open(path, safefile.Trusted("key file"))
		if safefile.Refused(err) {
			return nil, err
		}
		if err != nil {
			return nil, pathless(err)
		}
		defer file.Close()
		r = file
	}
	data, err := io.ReadAll(io.LimitReader(r, jwk.MaxInputBytes+1))
	if err != nil {
		return nil, pathless(err)
	}
	if len(data) > jwk.MaxInputBytes {
		return nil, fmt.Errorf("larger than %d bytes", jwk.MaxInputBytes)
	}
	return data, nil
}

// readKeys reads the keys of a --key FILE: a refused or non-regular file
// says so once, an empty file says "empty", a keyring says to use
// --keyring, and anything else that does not parse gets hint.
func readKeys(f *Factory, path, hint string) ([]*jwk.Key, error) {
	data, err := readKeyInput(f, path)
	var notRegular *safefile.NotRegularError
	if safefile.Refused(err) || errors.As(err, &notRegular) {
		return nil, err // the message names the file; the error's Hint says what to do
	}
	if err != nil {
		return nil, withHint(fmt.Errorf("read key %s: %w", path, err), "%s", hint)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, withHint(fmt.Errorf("key %s is empty", path), "%s", hint)
	}
	if looksLikeKeyring(data) {
		return nil, withHint(fmt.Errorf("%s is a keyctl keyring, not a key file", path), "use --keyring %s", shellQuote(path))
	}
	keys, err := parseKeyData(f, path, data, false)
	if err != nil {
		return nil, withHint(fmt.Errorf("key %s: %w", path, err), "%s", unpaddedHint(err, path, hint))
	}
	return keys, nil
}

// unpaddedHint is the hint for a key an older Supabase CLI wrote without
// the left zero bytes of a P-256 member (jwk.ErrUnpaddedEC), else def.
func unpaddedHint(err error, path, def string) string {
	if !errors.Is(err, jwk.ErrUnpaddedEC) {
		return def
	}
	return fmt.Sprintf("an older Supabase CLI wrote this key without left zero padding, which Supabase Auth refuses too; keyctl keys import-supabase %s (or keys import, for one key) reads and pads it, and keyctl keys export --format supabase writes it back whole", shellQuote(path))
}

// looksLikeKeyring reports whether data is a keyctl keyring document
// ({"version":N,"keys":[{..."state"...}]}), for a hint only.
func looksLikeKeyring(data []byte) bool {
	var doc struct {
		Version *int                         `json:"version"`
		Keys    []map[string]json.RawMessage `json:"keys"`
	}
	if json.Unmarshal(data, &doc) != nil || doc.Version == nil {
		return false
	}
	for _, k := range doc.Keys {
		if _, ok := k["state"]; ok {
			return true
		}
	}
	return len(doc.Keys) == 0
}

// loadSigningKey finds the key to sign with, first source that applies:
// --key FILE, --keys-file PATH, then the keyring's key in use. maxLifetime
// is the keyring's max token lifetime for the keyring's key, 0 (none) for
// the others.
func loadSigningKey(f *Factory, keyPath, keysFile, kid string) (key *jwk.Key, maxLifetime time.Duration, err error) {
	if kid != "" {
		if err := checkKIDFlag("--kid", kid); err != nil {
			return nil, 0, err
		}
	}
	var keys []*jwk.Key
	source := keyPath
	switch {
	case keyPath != "":
		keys, err = readKeys(f, keyPath, "--key takes a JWK, a PEM private key or a signing_keys.json file")
		if err != nil {
			return nil, 0, err
		}
		source = "key " + keyPath
	case keysFile != "":
		keys, err = keysfile.Read(keysFile)
		if safefile.Refused(err) {
			return nil, 0, err
		}
		if errors.Is(err, keysfile.ErrNotFound) {
			return nil, 0, withHint(err, "create one with: keyctl gen signing-key --keys-file %s", shellQuote(keysFile))
		}
		if err != nil {
			return nil, 0, withHint(fmt.Errorf("read keys file %s: %w", keysFile, err), "%s", unpaddedHint(err, keysFile, "fix the file or pass a single key with --key"))
		}
		if len(keys) == 0 {
			return nil, 0, withHint(fmt.Errorf("keys file %s holds no keys", keysFile), "add one with: keyctl gen signing-key --keys-file %s", shellQuote(keysFile))
		}
		source = "keys file " + keysFile
	default:
		k, maxLifetime, err := keyringSigningKeyMax(f, kid)
		if errors.Is(err, errNoKeyring) {
			return nil, 0, withHint(errors.New("no signing key: pass --key FILE or --keys-file PATH, or set up a keyring"),
				"make a key with \"keyctl gen signing-key --out key.json\" and pass --key key.json, or run \"keyctl keys create\" then \"keyctl keys rotate\"")
		}
		return k, maxLifetime, err
	}
	var k *jwk.Key
	if kid != "" && len(keys) == 1 && keys[0].KID == "" {
		// --kid names the kid of a key that has none (a PEM file).
		c := *keys[0]
		c.KID = kid
		k = &c
	} else if k, err = keysfile.Select(keys, kid); err != nil {
		var list []jwt.TrustedKey
		for _, k := range keys {
			list = append(list, jwt.TrustedKey{Key: k})
		}
		return nil, 0, withHint(fmt.Errorf("%s: %w", source, err), "the kids there: %s", kidList(list))
	}
	if k, err = signable(k, kid, strings.TrimPrefix(source, "key ")); err != nil {
		return nil, 0, err
	}
	k, named, err := k.WithDefaultKID()
	if err != nil {
		return nil, 0, err
	}
	if named {
		f.IO.Infof("%s has no kid: the token carries its RFC 7638 thumbprint %s as the kid (--kid names another)", source, k.KID)
	}
	return k, 0, nil
}

// signable checks that k can sign. A key named explicitly by --kid may be a
// standby key whose key_ops hold only "verify": the user chose it.
func signable(k *jwk.Key, kid, source string) (*jwk.Key, error) {
	if !k.IsPrivate() {
		if k.KID == "" {
			return nil, withHint(fmt.Errorf("%s holds a public key, which cannot sign", source), "pass the private key (JWK or PEM)")
		}
		return nil, withHint(fmt.Errorf("%s: key %q is a public key and cannot sign", source, k.KID), "pass the private key (JWK or PEM)")
	}
	if !k.HasOp(jwk.OpSign) {
		if kid == "" {
			return nil, withHint(fmt.Errorf("%s: key %q may not sign (key_ops %v)", source, k.KID, k.KeyOps), "pick it explicitly with --kid %s to sign with it anyway", shellQuote(k.KID))
		}
		k = k.WithOps(jwk.OpSign, jwk.OpVerify)
	}
	return k, nil
}

// shellQuote returns s as one shell word: unchanged when it holds only
// characters no shell treats specially, else in single quotes, so a hint
// that shows it can be pasted.
func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@+,%", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// quoteKID shows a kid in a message: in double quotes, escaped.
func quoteKID(kid string) string { return strconv.Quote(kid) }

// checkKIDFlag refuses a --kid value keyctl does not accept as a kid.
func checkKIDFlag(flag, kid string) error {
	if err := jwk.CheckKID(kid); err != nil {
		return withHint(&UsageError{Err: fmt.Errorf("%s: %w", flag, err)}, "a kid is printable ASCII without spaces, such as a UUID or key-2026-11")
	}
	return nil
}
