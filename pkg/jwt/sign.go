// Package jwt mints and strictly verifies JSON Web Tokens (RFC 7519) in JWS
// compact serialisation (RFC 7515) with the keys of package jwk.
//
// Minting is built for speed: the protected header is encoded once per
// signer, claims are serialised without reflection for the usual types, and
// the signature comes straight from the standard library. Tokens are
// byte-for-byte what go-jose would produce for the same header and claims.
package jwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/keyctl/keyctl/pkg/jwk"
)

var b64 = base64.RawURLEncoding

// ErrCannotSign reports a key that holds no private material or whose
// key_ops forbid signing.
var ErrCannotSign = errors.New("key cannot sign")

// Signer signs tokens with one key. It is safe for concurrent use.
type Signer struct {
	key    *jwk.Key
	header string // base64url of the protected header, computed once
	sign   func(signingInput []byte) ([]byte, error)
}

// NewSigner prepares a signer for k. The header is {"alg","kid","typ":"JWT"}
// (kid omitted when the key has none), with members in sorted order.
func NewSigner(k *jwk.Key) (*Signer, error) {
	if !k.IsPrivate() {
		return nil, fmt.Errorf("%w: kid %q is a public key", ErrCannotSign, k.KID)
	}
	if !k.HasOp(jwk.OpSign) {
		return nil, fmt.Errorf("%w: kid %q has key_ops without \"sign\"", ErrCannotSign, k.KID)
	}
	s := &Signer{key: k}
	switch m := k.Material.(type) {
	case *ecdsa.PrivateKey:
		s.sign = func(in []byte) ([]byte, error) {
			sum := sha256.Sum256(in)
			r, ss, err := ecdsa.Sign(rand.Reader, m, sum[:])
			if err != nil {
				return nil, err
			}
			sig := make([]byte, 64)
			r.FillBytes(sig[:32])
			ss.FillBytes(sig[32:])
			return sig, nil
		}
	case *rsa.PrivateKey:
		s.sign = func(in []byte) ([]byte, error) {
			sum := sha256.Sum256(in)
			return rsa.SignPKCS1v15(nil, m, crypto.SHA256, sum[:])
		}
	case ed25519.PrivateKey:
		s.sign = func(in []byte) ([]byte, error) {
			return ed25519.Sign(m, in), nil
		}
	case []byte:
		s.sign = func(in []byte) ([]byte, error) {
			mac := hmac.New(sha256.New, m)
			mac.Write(in)
			return mac.Sum(nil), nil
		}
	default:
		return nil, fmt.Errorf("%w: unsupported key material %T", ErrCannotSign, k.Material)
	}
	h := []byte(`{"alg":`)
	h = appendString(h, string(k.Alg))
	if k.KID != "" {
		h = append(h, `,"kid":`...)
		h = appendString(h, k.KID)
	}
	h = append(h, `,"typ":"JWT"}`...)
	s.header = b64.EncodeToString(h)
	return s, nil
}

// Key returns the signing key.
func (s *Signer) Key() *jwk.Key { return s.key }

// Sign serialises claims (sorted keys at every depth) and signs them.
func (s *Signer) Sign(claims map[string]any) (string, error) {
	payload, err := MarshalClaims(claims)
	if err != nil {
		return "", err
	}
	tok, err := s.AppendSigned(nil, payload)
	return string(tok), err
}

// AppendSigned appends the compact token for the given claims JSON to dst.
// Reusing dst across calls keeps minting free of per-token buffer growth.
func (s *Signer) AppendSigned(dst, payload []byte) ([]byte, error) {
	start := len(dst)
	dst = append(dst, s.header...)
	dst = append(dst, '.')
	dst = b64.AppendEncode(dst, payload)
	sig, err := s.sign(dst[start:])
	if err != nil {
		return dst[:start], err
	}
	dst = append(dst, '.')
	return b64.AppendEncode(dst, sig), nil
}
