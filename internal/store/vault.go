package store

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"

	jose "github.com/go-jose/go-jose/v4"
)

// PBES2Iterations is the PBKDF2 count of the passphrase (600,000, as step
// uses and OWASP recommends for PBKDF2-HMAC-SHA256). A variable so the
// package's own tests can run quickly; decryption reads the count from the
// JWE header.
var PBES2Iterations = 600_000

// Bounds on the PBKDF2 count an encryption header may ask for, checked
// before anything is derived. Fewer than PBES2Iterations (what keyctl
// writes) is a weakened wrap; more than MaxPBES2Iterations makes opening
// the keyring a denial of service. go-jose derives at most
// joseMaxPBES2Iterations, so a count between the two is not keyctl's either.
const (
	MaxPBES2Iterations     = 10_000_000
	joseMaxPBES2Iterations = 1_000_000
)

// The encryption scheme, recorded in the keyring so a later version can
// add others.
const (
	// SchemePBES2DataKey: a random 256-bit data key wrapped by the
	// passphrase as a compact JWE (PBES2-HS256+A128KW, A256GCM); each key's
	// private JWK is a compact JWE under the data key (A256KW, A256GCM)
	// whose protected header names the key's kid. One passphrase derivation
	// unlocks every key, and adding a key needs no re-encryption.
	SchemePBES2DataKey = "pbes2-data-key"

	dataKeyType  = "keyctl-data-key"
	privateType  = "jwk+json"
	dataKeyBytes = 32
)

// Errors about encryption.
var (
	// ErrWrongPassphrase: the passphrase does not unwrap the data key.
	ErrWrongPassphrase = errors.New("wrong passphrase")
	// ErrNeedPassphrase: the keyring is encrypted and no passphrase source
	// was given (no KEYCTL_PASSPHRASE, no --passphrase-file, no terminal).
	ErrNeedPassphrase = errors.New("the keyring is encrypted and no passphrase was given")
	// ErrEmptyPassphrase: an empty passphrase protects nothing.
	ErrEmptyPassphrase = errors.New("the passphrase is empty")
)

// vault holds the data key of an encrypted keyring, unwrapped on first use.
type vault struct {
	wrapped string
	ask     func() ([]byte, error)

	once sync.Once
	key  []byte
	err  error
}

// newVault makes a fresh data key wrapped by passphrase.
func newVault(passphrase []byte) (*vault, error) {
	if len(passphrase) == 0 {
		return nil, ErrEmptyPassphrase
	}
	key := make([]byte, dataKeyBytes)
	rand.Read(key)
	enc, err := jose.NewEncrypter(jose.A256GCM,
		jose.Recipient{Algorithm: jose.PBES2_HS256_A128KW, Key: passphrase, PBES2Count: PBES2Iterations},
		(&jose.EncrypterOptions{}).WithContentType(dataKeyType))
	if err != nil {
		return nil, err
	}
	obj, err := enc.Encrypt(key)
	if err != nil {
		return nil, err
	}
	wrapped, err := obj.CompactSerialize()
	if err != nil {
		return nil, err
	}
	v := &vault{wrapped: wrapped}
	v.once.Do(func() { v.key = key })
	return v, nil
}

// checkWrapped validates the wrapped data key's shape without a passphrase.
func checkWrapped(wrapped string) error {
	obj, err := jose.ParseEncryptedCompact(wrapped, []jose.KeyAlgorithm{jose.PBES2_HS256_A128KW}, []jose.ContentEncryption{jose.A256GCM})
	if err != nil {
		return fmt.Errorf("encrypted data key: %v", err)
	}
	if obj.Header.ExtraHeaders[jose.HeaderContentType] != dataKeyType {
		return errors.New("encrypted data key: wrong content type")
	}
	return checkIterations(obj.Header.ExtraHeaders["p2c"])
}

// checkIterations bounds the PBKDF2 count of the data key's header, so a
// weakened or hostile header is refused with its own message before any
// derivation (never as a wrong passphrase).
func checkIterations(v any) error { return CheckPBES2Count(v, PBES2Iterations, "file") }

// CheckPBES2Count bounds a PBES2 header's PBKDF2 count (p2c): at least
// floor (what keyctl writes), at most MaxPBES2Iterations (more is a denial
// of service) and what go-jose derives. thing names what a weakened
// header means was tampered with ("file", "seal").
func CheckPBES2Count(v any, floor int, thing string) error {
	f, ok := v.(float64)
	if !ok || f != float64(int64(f)) {
		return errors.New("encryption header has no whole PBKDF2 iteration count (p2c): keyctl did not write it")
	}
	n := int64(f)
	switch {
	case n < int64(floor):
		return fmt.Errorf("encryption header asks for only %d PBKDF2 iterations; keyctl writes %d and refuses fewer: the %s may have been tampered with", n, floor, thing)
	case n > MaxPBES2Iterations:
		return fmt.Errorf("encryption header asks for %d PBKDF2 iterations; keyctl refuses more than %d (deriving the key would stall keyctl: a denial of service)", n, MaxPBES2Iterations)
	case n > joseMaxPBES2Iterations:
		return fmt.Errorf("encryption header asks for %d PBKDF2 iterations; keyctl writes %d and derives at most %d: the %s may have been tampered with", n, floor, joseMaxPBES2Iterations, thing)
	}
	return nil
}

// unlock returns the data key, asking for the passphrase once.
func (v *vault) unlock() ([]byte, error) {
	v.once.Do(func() {
		if v.ask == nil {
			v.err = ErrNeedPassphrase
			return
		}
		pass, err := v.ask()
		if err != nil {
			v.err = err
			return
		}
		if len(pass) == 0 {
			v.err = ErrEmptyPassphrase
			return
		}
		obj, err := jose.ParseEncryptedCompact(v.wrapped, []jose.KeyAlgorithm{jose.PBES2_HS256_A128KW}, []jose.ContentEncryption{jose.A256GCM})
		if err != nil {
			v.err = fmt.Errorf("encrypted data key: %v", err)
			return
		}
		if err := checkIterations(obj.Header.ExtraHeaders["p2c"]); err != nil {
			v.err = err
			return
		}
		key, err := obj.Decrypt(pass)
		if err != nil {
			v.err = ErrWrongPassphrase
			return
		}
		if len(key) != dataKeyBytes {
			v.err = errors.New("encrypted data key: wrong size")
			return
		}
		v.key = key
	})
	return v.key, v.err
}

// unlocked reports whether the data key is at hand without asking.
func (v *vault) unlocked() bool { return v.key != nil }

// seal encrypts one private JWK under the data key, binding it to kid.
func (v *vault) seal(kid string, plaintext []byte) (string, error) {
	key, err := v.unlock()
	if err != nil {
		return "", err
	}
	enc, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: jose.A256KW, Key: key, KeyID: kid},
		(&jose.EncrypterOptions{}).WithContentType(privateType))
	if err != nil {
		return "", err
	}
	obj, err := enc.Encrypt(plaintext)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}

// parseSealed reads a sealed private key's header and checks it names kid.
func parseSealed(kid, sealed string) (*jose.JSONWebEncryption, error) {
	if strings.Count(sealed, ".") != 4 {
		return nil, errors.New("encrypted private key: not a compact JWE")
	}
	obj, err := jose.ParseEncryptedCompact(sealed, []jose.KeyAlgorithm{jose.A256KW}, []jose.ContentEncryption{jose.A256GCM})
	if err != nil {
		return nil, fmt.Errorf("encrypted private key: %v", err)
	}
	if obj.Header.KeyID != kid {
		return nil, fmt.Errorf("encrypted private key belongs to kid %q", obj.Header.KeyID)
	}
	return obj, nil
}

// open decrypts a sealed private JWK and checks it belongs to kid.
func (v *vault) open(kid, sealed string) ([]byte, error) {
	obj, err := parseSealed(kid, sealed)
	if err != nil {
		return nil, err
	}
	key, err := v.unlock()
	if err != nil {
		return nil, err
	}
	out, err := obj.Decrypt(key)
	if err != nil {
		return nil, errors.New("encrypted private key: does not decrypt with the keyring's data key")
	}
	return out, nil
}
