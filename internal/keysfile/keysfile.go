// Package keysfile reads and writes Supabase's signing_keys.json: a JSON
// array of private JWKs, 2-space indented, with exactly one key whose
// key_ops hold "sign" (Supabase Auth refuses to start otherwise).
package keysfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"

	"github.com/keyctl/keyctl/internal/safefile"
	"github.com/keyctl/keyctl/internal/store"
	"github.com/keyctl/keyctl/pkg/jwk"
)

// Perm is the mode keys files are written with.
const Perm = 0o600

// ErrNotFound reports a keys file that does not exist.
var ErrNotFound = errors.New("keys file not found")

// Read loads the keys in path. A file that is empty or holds only white
// space counts as an empty array. A missing file is ErrNotFound. The keys
// sign tokens or are served as trusted, so the file must be a regular file
// (a FIFO is refused without blocking) owned by the user or root, in a
// directory no one else can write (see safefile.Trusted).
func Read(path string) ([]*jwk.Key, error) { return read(path, false) }

// ReadRepairing is Read for a file being imported: P-256 members an
// older Supabase CLI wrote without their left zero bytes are read and
// padded (jwk.ParseRepairing; each key's PaddedMembers says which).
func ReadRepairing(path string) ([]*jwk.Key, error) { return read(path, true) }

func read(path string, repair bool) ([]*jwk.Key, error) {
	data, err := safefile.ReadFile(path, jwk.MaxInputBytes, safefile.Trusted("keys file"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", path, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return parse(data, repair)
}

// Parse reads the contents of a keys file.
func Parse(data []byte) ([]*jwk.Key, error) { return parse(data, false) }

func parse(data []byte, repair bool) ([]*jwk.Key, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return []*jwk.Key{}, nil
	}
	var keys []*jwk.Key
	var err error
	if repair {
		t := bytes.TrimSpace(data)
		if len(t) > 0 && t[0] != '[' {
			// ParseRepairing takes other shapes too; a keys file is an array.
			_, err = jwk.ParseArray(t)
		} else {
			keys, err = jwk.ParseRepairing(t)
		}
	} else {
		keys, err = jwk.ParseArray(data)
	}
	if err != nil {
		return nil, err
	}
	for i, k := range keys {
		if !k.IsPrivate() {
			return nil, fmt.Errorf("key %d (kid %q) is a public key; a keys file holds private keys", i, k.KID)
		}
	}
	return keys, nil
}

// Marshal encodes keys as Supabase writes them: a JSON array, 2-space
// indent, trailing newline.
func Marshal(keys []*jwk.Key) ([]byte, error) {
	if keys == nil {
		keys = []*jwk.Key{}
	}
	out, err := json.MarshalIndent(keys, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// Write replaces path atomically with keys, mode 0600.
func Write(path string, keys []*jwk.Key) error {
	data, err := Marshal(keys)
	if err != nil {
		return err
	}
	return store.WriteFileAtomic(path, data, Perm)
}

// SigningIndex returns the index of the key whose key_ops hold "sign"
// (explicitly), or -1.
func SigningIndex(keys []*jwk.Key) int {
	for i, k := range keys {
		if k.KeyOps != nil && slices.Contains(k.KeyOps, jwk.OpSign) {
			return i
		}
	}
	return -1
}

// Signers counts the keys whose key_ops hold "sign". Supabase Auth starts
// only when exactly one does.
func Signers(keys []*jwk.Key) int {
	n := 0
	for _, k := range keys {
		if k.KeyOps != nil && slices.Contains(k.KeyOps, jwk.OpSign) {
			n++
		}
	}
	return n
}

// ManySignersError refuses to add a standby key to a file that already
// holds more than one signing key (as the Supabase CLI's own --append
// writes it): the file would stay one Supabase Auth refuses.
type ManySignersError struct{ N int }

func (e *ManySignersError) Error() string {
	return fmt.Sprintf("the file holds %d keys with \"sign\" in key_ops; Supabase Auth starts only with exactly one", e.N)
}

// Append adds k to keys so that the file has exactly one signing key: with
// inUse, or when no key signs yet, k becomes the signing key
// (["sign","verify"]), first in the file (the Supabase CLI signs with the
// first key), and every other key turns to ["verify"]; otherwise k joins
// last as a standby key with ["verify"], which a file holding more than
// one signing key refuses (ManySignersError). It reports whether k signs.
func Append(keys []*jwk.Key, k *jwk.Key, inUse bool) ([]*jwk.Key, bool, error) {
	for _, old := range keys {
		if old.KID == k.KID {
			return nil, false, fmt.Errorf("kid %q is already in the file", k.KID)
		}
	}
	n := Signers(keys)
	signs := inUse || n == 0
	if !signs && n > 1 {
		return nil, false, &ManySignersError{N: n}
	}
	out := make([]*jwk.Key, 0, len(keys)+1)
	if signs {
		out = append(out, k.WithOps(jwk.OpSign, jwk.OpVerify))
	}
	for _, old := range keys {
		if signs {
			old = old.WithOps(jwk.OpVerify)
		}
		out = append(out, old)
	}
	if !signs {
		out = append(out, k.WithOps(jwk.OpVerify))
	}
	return out, signs, nil
}

// Select picks the key to sign with: the one named kid, else the one whose
// key_ops hold "sign", else the first.
func Select(keys []*jwk.Key, kid string) (*jwk.Key, error) {
	if len(keys) == 0 {
		return nil, errors.New("the file holds no keys")
	}
	if kid != "" {
		for _, k := range keys {
			if k.KID == kid {
				return k, nil
			}
		}
		return nil, fmt.Errorf("no key with kid %q", kid)
	}
	if i := SigningIndex(keys); i >= 0 {
		return keys[i], nil
	}
	return keys[0], nil
}
