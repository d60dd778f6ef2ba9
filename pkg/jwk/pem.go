package jwk

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// ParsePEM reads one PEM key: PKCS#8 ("PRIVATE KEY"), PKCS#1 ("RSA PRIVATE
// KEY"), SEC1 ("EC PRIVATE KEY"), PKIX ("PUBLIC KEY") or PKCS#1 public ("RSA
// PUBLIC KEY"). The key gets the algorithm its type implies and no kid.
func ParsePEM(data []byte) (*Key, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	if next, _ := pem.Decode(rest); next != nil {
		return nil, errors.New("more than one PEM block; give one key per file")
	}
	if _, encrypted := block.Headers["Proc-Type"]; encrypted {
		return nil, errors.New("encrypted PEM keys are not supported; decrypt it first (openssl pkey -in KEY -out plain.pem)")
	}
	var material any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		material, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		material, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		material, err = x509.ParseECPrivateKey(block.Bytes)
	case "PUBLIC KEY":
		material, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		material, err = x509.ParsePKCS1PublicKey(block.Bytes)
	default:
		return nil, fmt.Errorf("PEM block %q is not a key keyctl reads", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("PEM %s: %v", block.Type, err)
	}
	return FromCrypto(material)
}

// FromCrypto wraps a Go crypto key as a Key with the algorithm its type
// implies, after the same checks Parse applies.
func FromCrypto(material any) (*Key, error) {
	k := &Key{}
	switch m := material.(type) {
	case *ecdsa.PrivateKey:
		if m.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%w: curve %s (keyctl uses P-256)", ErrUnsupportedKeyType, m.Curve.Params().Name)
		}
		k.Alg = ES256
	case *ecdsa.PublicKey:
		if m.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%w: curve %s (keyctl uses P-256)", ErrUnsupportedKeyType, m.Curve.Params().Name)
		}
		k.Alg = ES256
	case *rsa.PrivateKey:
		if len(m.Primes) != 2 {
			return nil, errors.New("multi-prime RSA keys are not supported")
		}
		if err := checkRSABits(m.N.BitLen()); err != nil {
			return nil, err
		}
		m.Precompute()
		k.Alg = RS256
	case *rsa.PublicKey:
		if err := checkRSABits(m.N.BitLen()); err != nil {
			return nil, err
		}
		k.Alg = RS256
	case ed25519.PublicKey:
		if err := CheckEd25519Public(m); err != nil {
			return nil, err
		}
		k.Alg = EdDSA
	case ed25519.PrivateKey:
		k.Alg = EdDSA
	case []byte:
		if err := CheckSecret(m); err != nil {
			return nil, err
		}
		k.Alg = HS256
	default:
		return nil, fmt.Errorf("%w %T", ErrUnsupportedKeyType, material)
	}
	k.Material = material
	return k, nil
}

func checkRSABits(bits int) error {
	if bits < MinRSABits {
		return fmt.Errorf("%w: %d-bit RSA modulus, want at least %d", ErrWeakKey, bits, MinRSABits)
	}
	if bits > MaxRSABits {
		return fmt.Errorf("%d-bit RSA modulus is larger than %d", bits, MaxRSABits)
	}
	return nil
}

// MarshalPEM encodes a private key as PKCS#8 "PRIVATE KEY" PEM, or a public
// key as PKIX "PUBLIC KEY" PEM. Shared secrets have no PEM form.
func (k *Key) MarshalPEM() ([]byte, error) {
	switch k.Material.(type) {
	case []byte:
		return nil, errors.New("a shared secret (HS256) has no PEM form; use --format jwk")
	case *ecdsa.PrivateKey, *rsa.PrivateKey, ed25519.PrivateKey:
		der, err := x509.MarshalPKCS8PrivateKey(k.Material)
		if err != nil {
			return nil, err
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
	}
	der, err := x509.MarshalPKIXPublicKey(k.Material)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}
