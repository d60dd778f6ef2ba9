package pgstore

import (
	"errors"
	"fmt"
	"sync"

	"github.com/keyctl/keyctl/pkg/jwk"
)

// rowMaterial is a key as its row holds it, parsed (and unsealed) on first
// use, so listing a large keyring opens no seal.
type rowMaterial struct {
	kid    string
	alg    jwk.Algorithm
	public []byte // public JWK; nil for shared secrets
	sealed string // sealed private JWK, or the JWK itself without a seal
	sealer *sealer

	pubOnce  sync.Once
	pub      *jwk.Key
	pubErr   error
	privOnce sync.Once
	priv     *jwk.Key
	privErr  error
}

func (m *rowMaterial) Public() (*jwk.Key, error) {
	if m.alg.Symmetric() {
		return nil, jwk.ErrSymmetric
	}
	m.pubOnce.Do(func() {
		k, err := jwk.Parse(m.public)
		switch {
		case err != nil:
			m.pubErr = fmt.Errorf("public key: %w", err)
		case k.IsPrivate():
			m.pubErr = errors.New("public key: holds private members in the clear")
		case k.KID != m.kid || k.Alg != m.alg:
			m.pubErr = fmt.Errorf("public key: kid %q %s, want %q %s", k.KID, k.Alg, m.kid, m.alg)
		default:
			m.pub = k
		}
	})
	return m.pub, m.pubErr
}

func (m *rowMaterial) Private() (*jwk.Key, error) {
	m.privOnce.Do(func() { m.priv, m.privErr = m.open() })
	return m.priv, m.privErr
}

func (m *rowMaterial) open() (*jwk.Key, error) {
	raw := []byte(m.sealed)
	if m.sealer != nil {
		plain, err := m.sealer.open(m.kid, m.sealed)
		if err != nil {
			return nil, err
		}
		raw = plain
	}
	k, err := jwk.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	if !k.IsPrivate() || k.KID != m.kid || k.Alg != m.alg {
		return nil, errors.New("private key: not the private key of this row")
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

// Check validates what it can without a secret: the public key, and the
// sealed value's binding to this keyring and kid.
func (m *rowMaterial) Check() error {
	if !m.alg.Symmetric() {
		if _, err := m.Public(); err != nil {
			return err
		}
	}
	if m.sealer != nil && !m.sealer.unlocked() {
		_, err := parseBound("sealed private key", m.sealed, sealAlgs, m.sealer.keyring, m.kid)
		return err
	}
	_, err := m.Private()
	return err
}
