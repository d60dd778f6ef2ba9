package jwk

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
)

var b64 = base64.RawURLEncoding

// MarshalJSON encodes the key as one compact JWK with members in the order
// the Supabase CLI prints them: kty, kid, use, key_ops, alg, ext, then the
// key material (EC: d, crv, x, y; RSA: n, e, d, p, q, dp, dq, qi; oct: k;
// OKP: crv, d, x). Fixed-width members are always full width.
func (k *Key) MarshalJSON() ([]byte, error) {
	kty := k.Kty()
	if kty == "" {
		return nil, ErrUnsupportedKeyType
	}
	var buf bytes.Buffer
	buf.Grow(256)
	buf.WriteString(`{"kty":`)
	writeString(&buf, kty)
	if k.KID != "" {
		buf.WriteString(`,"kid":`)
		writeString(&buf, k.KID)
	}
	if k.Use != "" {
		buf.WriteString(`,"use":`)
		writeString(&buf, k.Use)
	}
	if k.KeyOps != nil {
		buf.WriteString(`,"key_ops":[`)
		for i, op := range k.KeyOps {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeString(&buf, op)
		}
		buf.WriteByte(']')
	}
	if k.Alg != "" {
		buf.WriteString(`,"alg":`)
		writeString(&buf, string(k.Alg))
	}
	if k.Ext {
		buf.WriteString(`,"ext":true`)
	}
	member := func(name string, value []byte) {
		buf.WriteString(`,"`)
		buf.WriteString(name)
		buf.WriteString(`":"`)
		buf.WriteString(b64.EncodeToString(value))
		buf.WriteByte('"')
	}
	switch m := k.Material.(type) {
	case *ecdsa.PrivateKey:
		d, err := m.Bytes()
		if err != nil {
			return nil, err
		}
		x, y, err := ecPoint(&m.PublicKey)
		if err != nil {
			return nil, err
		}
		member("d", d)
		buf.WriteString(`,"crv":"P-256"`)
		member("x", x)
		member("y", y)
	case *ecdsa.PublicKey:
		x, y, err := ecPoint(m)
		if err != nil {
			return nil, err
		}
		buf.WriteString(`,"crv":"P-256"`)
		member("x", x)
		member("y", y)
	case *rsa.PrivateKey:
		if len(m.Primes) != 2 {
			return nil, errors.New("multi-prime RSA keys are not supported")
		}
		if m.Precomputed.Dp == nil {
			m.Precompute()
		}
		member("n", m.N.Bytes())
		member("e", big.NewInt(int64(m.E)).Bytes())
		member("d", m.D.Bytes())
		member("p", m.Primes[0].Bytes())
		member("q", m.Primes[1].Bytes())
		member("dp", m.Precomputed.Dp.Bytes())
		member("dq", m.Precomputed.Dq.Bytes())
		member("qi", m.Precomputed.Qinv.Bytes())
	case *rsa.PublicKey:
		member("n", m.N.Bytes())
		member("e", big.NewInt(int64(m.E)).Bytes())
	case []byte:
		member("k", m)
	case ed25519.PrivateKey:
		buf.WriteString(`,"crv":"Ed25519"`)
		member("d", m.Seed())
		member("x", m[32:])
	case ed25519.PublicKey:
		buf.WriteString(`,"crv":"Ed25519"`)
		member("x", m)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

func writeString(buf *bytes.Buffer, s string) {
	b, _ := json.Marshal(s)
	buf.Write(b)
}

// ecPoint returns the 32-byte big-endian x and y of a P-256 public key.
func ecPoint(pub *ecdsa.PublicKey) (x, y []byte, err error) {
	raw, err := pub.Bytes() // 0x04 || x || y, fixed width
	if err != nil {
		return nil, nil, err
	}
	n := (len(raw) - 1) / 2
	return raw[1 : 1+n], raw[1+n:], nil
}

// Thumbprint returns the RFC 7638 SHA-256 thumbprint, base64url encoded.
func (k *Key) Thumbprint() (string, error) {
	var canon string
	enc := func(b []byte) string { return b64.EncodeToString(b) }
	switch m := k.PublicMaterial().(type) {
	case *ecdsa.PublicKey:
		x, y, err := ecPoint(m)
		if err != nil {
			return "", err
		}
		canon = `{"crv":"P-256","kty":"EC","x":"` + enc(x) + `","y":"` + enc(y) + `"}`
	case *rsa.PublicKey:
		canon = `{"e":"` + enc(big.NewInt(int64(m.E)).Bytes()) + `","kty":"RSA","n":"` + enc(m.N.Bytes()) + `"}`
	case ed25519.PublicKey:
		canon = `{"crv":"Ed25519","kty":"OKP","x":"` + enc(m) + `"}`
	case []byte:
		canon = `{"k":"` + enc(m) + `","kty":"oct"}`
	default:
		return "", ErrUnsupportedKeyType
	}
	sum := sha256.Sum256([]byte(canon))
	return enc(sum[:]), nil
}

// Set is a JWK Set (RFC 7517 section 5).
type Set struct {
	Keys []*Key `json:"keys"`
}

// PublicSet returns the JWKS a verifier needs: the public form of every
// asymmetric key, in order. Shared secrets are never published.
func PublicSet(keys []*Key) (*Set, error) {
	set := &Set{Keys: []*Key{}}
	for _, k := range keys {
		if k.IsSymmetric() {
			continue
		}
		pub, err := k.Public()
		if err != nil {
			return nil, err
		}
		set.Keys = append(set.Keys, pub)
	}
	return set, nil
}
