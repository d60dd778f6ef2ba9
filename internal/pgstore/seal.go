package pgstore

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/keyctl/keyctl/internal/store"
)

// Seal schemes, as the keyrings table records them.
const (
	SchemePassphrase = "passphrase"
	SchemeMasterKey  = "master-key"
	SchemePlaintext  = "plaintext"
)

// PBES2 iteration counts a passphrase seal is written with and accepted
// within: below the floor the wrap is weak (a downgraded header), above the
// ceiling deriving the key is a denial of service.
var (
	PBES2Iterations    = 600_000
	MinPBES2Iterations = 600_000
)

// MaxPBES2Iterations bounds the derivation work a stored header can ask
// for: the file keyring's bound (store.CheckPBES2Count applies it).
const MaxPBES2Iterations = store.MaxPBES2Iterations

// checkIterations bounds the PBKDF2 count of a passphrase seal's header,
// before anything is derived, each bound with its own message (never "wrong
// passphrase").
func checkIterations(v any) error {
	return store.CheckPBES2Count(v, MinPBES2Iterations, "seal")
}

// MasterKeyBytes is the size of a master key: 256 bits.
const MasterKeyBytes = 32

const (
	dataKeyType   = "keyctl-data-key"
	privateType   = "jwk+json"
	keyringHeader = "keyctl_keyring"
)

// Errors about sealing.
var (
	// The passphrase errors are the file store's, so a command reports
	// them the same way whichever store it talks to.
	ErrWrongPassphrase = store.ErrWrongPassphrase
	ErrWrongMasterKey  = errors.New("wrong master key")
	ErrNeedPassphrase  = store.ErrNeedPassphrase
	ErrNeedMasterKey   = errors.New("the keyring is sealed with a master key and none was given")
	ErrNoSeal          = errors.New("a keyring in PostgreSQL needs a seal: a passphrase or a master key")
)

// Secrets are the sources of what opens or makes a seal. Each is asked at
// most once, and only when a private key is needed.
type Secrets struct {
	Passphrase func() ([]byte, error)
	MasterKey  func() ([]byte, error)
}

// ParseMasterKey decodes a master key: 32 bytes in base64 (standard or
// URL alphabet, padded or not), surrounding white space ignored.
func ParseMasterKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimRight(s, "=")
	s = strings.NewReplacer("+", "-", "/", "_").Replace(s)
	key, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New("the master key is not base64")
	}
	if len(key) != MasterKeyBytes {
		return nil, fmt.Errorf("the master key is %d bytes; it must be %d (make one with: openssl rand -base64 32)", len(key), MasterKeyBytes)
	}
	return key, nil
}

// sealer holds a keyring's data key: wrapped as stored, unwrapped on
// first use. A nil *sealer is a plaintext keyring.
type sealer struct {
	keyring string
	scheme  string
	wrapped string
	secrets Secrets

	once  sync.Once
	key   []byte
	err   error
	ready atomic.Bool // the data key is at hand
}

var sealAlgs = []jose.KeyAlgorithm{jose.A256KW}

// unlocked reports whether the data key is at hand without asking.
func (s *sealer) unlocked() bool { return s.ready.Load() }

// newSealer makes a fresh data key for keyring, wrapped under the scheme's
// secret.
func newSealer(keyring, scheme string, secrets Secrets) (*sealer, error) {
	if scheme == SchemePlaintext {
		return nil, nil
	}
	secret, err := askSecret(scheme, secrets)
	if err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	rand.Read(key)
	var rcpt jose.Recipient
	switch scheme {
	case SchemePassphrase:
		rcpt = jose.Recipient{Algorithm: jose.PBES2_HS256_A128KW, Key: secret, PBES2Count: PBES2Iterations}
	case SchemeMasterKey:
		rcpt = jose.Recipient{Algorithm: jose.A256KW, Key: secret}
	default:
		return nil, fmt.Errorf("unknown seal %q", scheme)
	}
	wrapped, err := encrypt(rcpt, keyring, dataKeyType, key)
	if err != nil {
		return nil, err
	}
	s := &sealer{keyring: keyring, scheme: scheme, wrapped: wrapped, secrets: secrets}
	s.once.Do(func() { s.key = key })
	s.ready.Store(true)
	return s, nil
}

func askSecret(scheme string, secrets Secrets) ([]byte, error) {
	switch scheme {
	case SchemePassphrase:
		if secrets.Passphrase == nil {
			return nil, ErrNeedPassphrase
		}
		p, err := secrets.Passphrase()
		if err == nil && len(p) == 0 {
			err = errors.New("the passphrase is empty")
		}
		return p, err
	case SchemeMasterKey:
		if secrets.MasterKey == nil {
			return nil, ErrNeedMasterKey
		}
		k, err := secrets.MasterKey()
		if err == nil && len(k) != MasterKeyBytes {
			err = fmt.Errorf("the master key is %d bytes; it must be %d", len(k), MasterKeyBytes)
		}
		return k, err
	}
	return nil, fmt.Errorf("unknown seal %q", scheme)
}

func encrypt(rcpt jose.Recipient, keyring, cty string, plaintext []byte) (string, error) {
	opts := (&jose.EncrypterOptions{}).WithContentType(jose.ContentType(cty)).WithHeader(keyringHeader, keyring)
	enc, err := jose.NewEncrypter(jose.A256GCM, rcpt, opts)
	if err != nil {
		return "", err
	}
	obj, err := enc.Encrypt(plaintext)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}

// parseBound parses a compact JWE of keyctl's and checks the keyring (and
// kid, when given) its authenticated header binds it to.
func parseBound(what, compact string, algs []jose.KeyAlgorithm, keyring, kid string) (*jose.JSONWebEncryption, error) {
	if strings.Count(compact, ".") != 4 {
		return nil, fmt.Errorf("%s: not a compact JWE", what)
	}
	obj, err := jose.ParseEncryptedCompact(compact, algs, []jose.ContentEncryption{jose.A256GCM})
	if err != nil {
		return nil, fmt.Errorf("%s: %v", what, err)
	}
	if got, _ := obj.Header.ExtraHeaders[keyringHeader].(string); got != keyring {
		return nil, fmt.Errorf("%s belongs to keyring %q, not %q", what, got, keyring)
	}
	if kid != "" && obj.Header.KeyID != kid {
		return nil, fmt.Errorf("%s belongs to kid %q, not %q", what, obj.Header.KeyID, kid)
	}
	return obj, nil
}

// checkWrapped validates a stored wrapped data key without any secret:
// its algorithm fits the scheme, it names this keyring, and a passphrase
// wrap asks for an iteration count within bounds.
func checkWrapped(keyring, scheme, wrapped string) (*jose.JSONWebEncryption, error) {
	alg := jose.A256KW
	if scheme == SchemePassphrase {
		alg = jose.PBES2_HS256_A128KW
	}
	obj, err := parseBound("sealed data key", wrapped, []jose.KeyAlgorithm{alg}, keyring, "")
	if err != nil {
		return nil, err
	}
	if cty, _ := obj.Header.ExtraHeaders[jose.HeaderContentType].(string); cty != dataKeyType {
		return nil, errors.New("sealed data key: wrong content type")
	}
	if scheme == SchemePassphrase {
		if err := checkIterations(obj.Header.ExtraHeaders["p2c"]); err != nil {
			return nil, err
		}
	}
	return obj, nil
}

// unlock returns the data key, asking for the secret once.
func (s *sealer) unlock() ([]byte, error) {
	s.once.Do(func() {
		obj, err := checkWrapped(s.keyring, s.scheme, s.wrapped)
		if err != nil {
			s.err = err
			return
		}
		secret, err := askSecret(s.scheme, s.secrets)
		if err != nil {
			s.err = err
			return
		}
		key, err := obj.Decrypt(secret)
		if err != nil {
			if s.scheme == SchemePassphrase {
				s.err = ErrWrongPassphrase
			} else {
				s.err = ErrWrongMasterKey
			}
			return
		}
		if len(key) != 32 {
			s.err = errors.New("sealed data key: wrong size")
			return
		}
		s.key = key
		s.ready.Store(true)
	})
	return s.key, s.err
}

// seal encrypts one private JWK under the data key, bound to keyring and kid.
func (s *sealer) seal(kid string, plaintext []byte) (string, error) {
	key, err := s.unlock()
	if err != nil {
		return "", err
	}
	return encrypt(jose.Recipient{Algorithm: jose.A256KW, Key: key, KeyID: kid}, s.keyring, privateType, plaintext)
}

// open decrypts a sealed private JWK and checks it is kid's in this keyring.
func (s *sealer) open(kid, sealed string) ([]byte, error) {
	obj, err := parseBound("sealed private key", sealed, sealAlgs, s.keyring, kid)
	if err != nil {
		return nil, err
	}
	key, err := s.unlock()
	if err != nil {
		return nil, err
	}
	out, err := obj.Decrypt(key)
	if err != nil {
		return nil, errors.New("sealed private key: does not open with the keyring's data key")
	}
	return out, nil
}
