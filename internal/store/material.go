package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/keyctl/keyctl/pkg/jwk"
)

// diskMaterial is a key as the keyring file holds it, parsed on first use:
// a thousand-key keyring costs one JSON decode to list, and signing parses
// (and decrypts) the one key it needs.
type diskMaterial struct {
	kid     string
	alg     jwk.Algorithm
	public  json.RawMessage // public JWK; nil for shared secrets
	private json.RawMessage // private JWK object, or a JSON string holding a JWE
	vault   *vault          // the keyring's vault when private is sealed

	pubOnce  sync.Once
	pub      *jwk.Key
	pubErr   error
	privOnce sync.Once
	priv     *jwk.Key
	privErr  error
}

func (m *diskMaterial) sealed() bool { return len(m.private) > 0 && m.private[0] == '"' }

// Public parses the clear public JWK. It never needs the passphrase.
func (m *diskMaterial) Public() (*jwk.Key, error) {
	if m.alg.Symmetric() {
		return nil, jwk.ErrSymmetric
	}
	m.pubOnce.Do(func() {
		k, err := jwk.Parse(m.public)
		if err != nil {
			m.pubErr = fmt.Errorf("public key: %w", memberOnly(err))
			return
		}
		if k.IsPrivate() {
			m.pubErr = errors.New("public key: holds private members in the clear")
			return
		}
		if err := m.matches(k); err != nil {
			m.pubErr = fmt.Errorf("public key: %w", err)
			return
		}
		m.pub = k
	})
	return m.pub, m.pubErr
}

// matches checks a parsed JWK against the entry's kid and algorithm.
func (m *diskMaterial) matches(k *jwk.Key) error {
	if k.KID != m.kid {
		return fmt.Errorf("kid %q, want %q", k.KID, m.kid)
	}
	if k.Alg != m.alg {
		return fmt.Errorf("algorithm %s, want %s", k.Alg, m.alg)
	}
	return nil
}

// Private parses (and, in an encrypted keyring, decrypts) the private JWK
// and checks that it belongs with the clear public key.
func (m *diskMaterial) Private() (*jwk.Key, error) {
	m.privOnce.Do(func() { m.priv, m.privErr = m.parsePrivate() })
	return m.priv, m.privErr
}

func (m *diskMaterial) parsePrivate() (*jwk.Key, error) {
	raw := []byte(m.private)
	if m.sealed() {
		if m.vault == nil {
			return nil, errors.New("private key: encrypted, but the keyring is not")
		}
		var sealed string
		if err := json.Unmarshal(m.private, &sealed); err != nil {
			return nil, fmt.Errorf("private key: %v", err)
		}
		plain, err := m.vault.open(m.kid, sealed)
		if err != nil {
			return nil, err
		}
		raw = plain
	}
	k, err := jwk.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", memberOnly(err))
	}
	if !k.IsPrivate() {
		return nil, errors.New("private key: holds only public members")
	}
	if err := m.matches(k); err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	if !m.alg.Symmetric() {
		pub, err := m.Public()
		if err != nil {
			return nil, err
		}
		if !pub.Equal(&jwk.Key{Material: k.PublicMaterial()}) {
			return nil, errors.New("private key does not match the public key")
		}
	}
	return &jwk.Key{KID: k.KID, Alg: k.Alg, Use: "sig", Material: k.Material}, nil
}

// Check validates the material as far as possible without a passphrase:
// the public key and a clear private key fully, a sealed private key by
// the shape of its JWE (fully when the keyring is already unlocked).
func (m *diskMaterial) Check() error {
	if !m.alg.Symmetric() {
		if _, err := m.Public(); err != nil {
			return err
		}
	}
	if m.sealed() && m.vault != nil && !m.vault.unlocked() {
		var sealed string
		if err := json.Unmarshal(m.private, &sealed); err != nil {
			return fmt.Errorf("private key: %v", err)
		}
		_, err := parseSealed(m.kid, sealed)
		return err
	}
	_, err := m.Private()
	return err
}

// memberOnly drops jwk.ParseError's "key (kid ...)" prefix: the keyring's
// messages already name the key.
func memberOnly(err error) error {
	var pe *jwk.ParseError
	if errors.As(err, &pe) {
		if pe.Member != "" {
			return fmt.Errorf("member %q: %w", pe.Member, pe.Err)
		}
		return pe.Err
	}
	return err
}
