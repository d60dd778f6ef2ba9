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
	"hash"
	"slices"
	"sync"

	"github.com/keyctl/keyctl/pkg/jwk"
)

var b64 = base64.RawURLEncoding

// ErrCannotSign reports a key that holds no private material or whose
// key_ops forbid signing.
var ErrCannotSign = errors.New("key cannot sign")

// maxSignatureSize is the largest raw signature keyctl makes: RSA with the
// largest modulus jwk accepts.
const maxSignatureSize = jwk.MaxRSABits / 8

// Signer signs tokens with one key. It is safe for concurrent use.
type Signer struct {
	key     *jwk.Key
	header  string // base64url of the protected header, computed once
	sigSize int    // raw signature length in bytes

	// appendSig appends the raw signature of signingInput to dst.
	appendSig func(dst, signingInput []byte) ([]byte, error)
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
		size := (m.Curve.Params().BitSize + 7) / 8
		s.sigSize = 2 * size
		s.appendSig = func(dst, in []byte) ([]byte, error) {
			sum := sha256.Sum256(in)
			// SignASN1 and a DER walk skip the two big.Int that
			// ecdsa.Sign would build only for us to flatten them again.
			der, err := ecdsa.SignASN1(rand.Reader, m, sum[:])
			if err != nil {
				return dst, err
			}
			return appendRawECDSA(dst, der, size)
		}
	case *rsa.PrivateKey:
		s.sigSize = m.Size()
		s.appendSig = func(dst, in []byte) ([]byte, error) {
			sum := sha256.Sum256(in)
			sig, err := rsa.SignPKCS1v15(nil, m, crypto.SHA256, sum[:])
			return append(dst, sig...), err
		}
	case ed25519.PrivateKey:
		s.sigSize = ed25519.SignatureSize
		s.appendSig = func(dst, in []byte) ([]byte, error) {
			return append(dst, ed25519.Sign(m, in)...), nil
		}
	case []byte:
		s.sigSize = sha256.Size
		// A keyed HMAC is reused through a pool: hmac.New per token would
		// hash the key and allocate every time, costing more than the MAC.
		secret := slices.Clone(m)
		macs := sync.Pool{New: func() any { return hmac.New(sha256.New, secret) }}
		s.appendSig = func(dst, in []byte) ([]byte, error) {
			mac := macs.Get().(hash.Hash)
			mac.Reset()
			mac.Write(in)
			dst = mac.Sum(dst)
			macs.Put(mac)
			return dst, nil
		}
	default:
		return nil, fmt.Errorf("%w: unsupported key material %T", ErrCannotSign, k.Material)
	}
	if s.sigSize > maxSignatureSize {
		return nil, fmt.Errorf("%w: signatures of %d bytes are larger than keyctl makes", ErrCannotSign, s.sigSize)
	}
	h := []byte(`{"alg":`)
	h = appendJSONString(h, string(k.Alg))
	if k.KID != "" {
		h = append(h, `,"kid":`...)
		h = appendJSONString(h, k.KID)
	}
	h = append(h, `,"typ":"JWT"}`...)
	s.header = b64.EncodeToString(h)
	return s, nil
}

// appendRawECDSA converts an ASN.1 DER ECDSA signature, SEQUENCE {INTEGER r,
// INTEGER s}, to the JWS form: r and s big-endian, each padded to size bytes
// (RFC 7518 section 3.4).
func appendRawECDSA(dst, der []byte, size int) ([]byte, error) {
	bad := errors.New("ecdsa: malformed signature from the standard library")
	// Short-form lengths only: P-256 and P-384 signatures are under 128 bytes.
	if len(der) < 2 || der[0] != 0x30 || int(der[1]) != len(der)-2 || der[1] >= 0x80 {
		return dst, bad
	}
	rest := der[2:]
	for range 2 {
		if len(rest) < 2 || rest[0] != 0x02 || rest[1] >= 0x80 || int(rest[1]) > len(rest)-2 {
			return dst, bad
		}
		n := int(rest[1])
		v := rest[2 : 2+n]
		rest = rest[2+n:]
		for len(v) > 0 && v[0] == 0 { // DER pads positive integers with a zero byte
			v = v[1:]
		}
		if len(v) > size {
			return dst, bad
		}
		for range size - len(v) {
			dst = append(dst, 0)
		}
		dst = append(dst, v...)
	}
	if len(rest) != 0 {
		return dst, bad
	}
	return dst, nil
}

// Key returns the signing key.
func (s *Signer) Key() *jwk.Key { return s.key }

// scratch buffers for Sign: the claims JSON and the token are built in one
// pooled buffer so that the only allocation left is the returned string.
var signScratch = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// Sign serialises claims (sorted keys at every depth, see MarshalClaims)
// and signs them.
func (s *Signer) Sign(claims map[string]any) (string, error) {
	bp := signScratch.Get().(*[]byte)
	defer signScratch.Put(bp)
	tok, err := s.AppendToken((*bp)[:0], claims)
	if cap(tok) <= 64<<10 { // keep the pool from holding a huge token
		*bp = tok[:0]
	}
	if err != nil {
		return "", err
	}
	return string(tok), nil
}

// AppendToken appends the token for claims to dst. The claims JSON is
// built in dst's spare room and the token then moved over it, so that a
// caller minting many tokens into one buffer allocates nothing per token.
func (s *Signer) AppendToken(dst []byte, claims map[string]any) ([]byte, error) {
	start := len(dst)
	withPayload, err := AppendClaims(dst, claims)
	if err != nil {
		return dst, err
	}
	withToken, err := s.AppendSigned(withPayload, withPayload[start:])
	if err != nil {
		return dst, err
	}
	n := copy(withToken[start:], withToken[len(withPayload):])
	return withToken[:start+n], nil
}

// AppendSigned appends the compact token for the given claims JSON to dst.
// Reusing dst across calls keeps minting free of per-token buffer growth.
// payload may be part of dst[:len(dst)] (as when both come from one buffer).
func (s *Signer) AppendSigned(dst, payload []byte) ([]byte, error) {
	// Grow once for the whole token, plus room for the raw signature,
	// which is written past the end and then encoded in place of itself.
	need := len(s.header) + 2 + b64.EncodedLen(len(payload)) + b64.EncodedLen(s.sigSize) + s.sigSize
	dst = slices.Grow(dst, need)
	start := len(dst)
	dst = append(dst, s.header...)
	dst = append(dst, '.')
	dst = b64.AppendEncode(dst, payload)
	return s.appendSignature(dst, start)
}

// appendSignature signs dst[start:], the signing input, and appends "."
// and the signature. dst must have room for the raw signature and its
// encoding.
func (s *Signer) appendSignature(dst []byte, start int) ([]byte, error) {
	end := len(dst)
	withSig, err := s.appendSig(dst, dst[start:end])
	if err != nil {
		return dst[:start], err
	}
	if len(withSig)-end != s.sigSize {
		return dst[:start], fmt.Errorf("signature is %d bytes, want %d", len(withSig)-end, s.sigSize)
	}
	// The raw signature was written past the signing input; move it aside
	// (encoding in place would overwrite it as it goes), then encode it
	// after the dot.
	var sig [maxSignatureSize]byte
	copy(sig[:], withSig[end:])
	dst = append(withSig[:end], '.')
	return b64.AppendEncode(dst, sig[:s.sigSize]), nil
}

// Series mints many tokens whose claims differ only in one string member,
// as `keyctl gen bearer-jwt --count` does with jti. The header, the claims
// JSON and nearly all of its base64url encoding are computed once; each
// token then costs the encoding of a few dozen bytes around the value, and
// the signature. Tokens are byte-identical to Signer.Sign on the same
// claims with the member set. A Series is safe for concurrent use.
type Series struct {
	signer   *Signer
	claims   *ClaimsTemplate
	valueLen int

	// For a value of valueLen bytes that needs no JSON escape, the
	// signing input is head + b64(gap + `"` + value + `"` + bridge) + tail,
	// with the middle part a whole number of base64 blocks.
	head   []byte // header "." b64(prefix[:len(prefix)-len(gap)])
	gap    []byte // the 0-2 bytes of the prefix left over after whole blocks
	bridge []byte // the 0-2 bytes of the suffix that complete the last block
	tail   []byte // b64(suffix[len(bridge):])
}

// NewSeries prepares a Series for claims with member open; values of
// valueLen bytes take the fast path, any other value the general one.
func (s *Signer) NewSeries(claims map[string]any, member string, valueLen int) (*Series, error) {
	t, err := NewClaimsTemplate(claims, member)
	if err != nil {
		return nil, err
	}
	ser := &Series{signer: s, claims: t, valueLen: valueLen}
	prefix, suffix := t.prefix, t.suffix
	whole := len(prefix) - len(prefix)%3
	ser.gap = prefix[whole:]
	ser.head = append([]byte(s.header+"."), b64.AppendEncode(nil, prefix[:whole])...)
	middle := len(ser.gap) + valueLen + 2
	k := (3 - middle%3) % 3
	if k > len(suffix) {
		k = len(suffix) // the suffix ends the payload: a short last block is fine
	}
	ser.bridge = suffix[:k]
	ser.tail = b64.AppendEncode(nil, suffix[k:])
	return ser, nil
}

// Append appends the token whose open member is value to dst.
func (ser *Series) Append(dst, value []byte) ([]byte, error) {
	if len(value) != ser.valueLen || !plainJSONString(value) {
		payload := ser.claims.AppendString(make([]byte, 0, len(ser.claims.prefix)+len(ser.claims.suffix)+2*len(value)+8), string(value))
		return ser.signer.AppendSigned(dst, payload)
	}
	s := ser.signer
	var mid [512]byte
	m := append(mid[:0], ser.gap...)
	m = append(m, '"')
	m = append(m, value...)
	m = append(m, '"')
	m = append(m, ser.bridge...)
	need := len(ser.head) + b64.EncodedLen(len(m)) + len(ser.tail) + 1 + b64.EncodedLen(s.sigSize) + s.sigSize
	dst = slices.Grow(dst, need)
	start := len(dst)
	dst = append(dst, ser.head...)
	dst = b64.AppendEncode(dst, m)
	dst = append(dst, ser.tail...)
	return s.appendSignature(dst, start)
}

// plainJSONString reports whether v encodes as a JSON string verbatim
// (between quotes, no escapes), and is short enough for Series' fast path.
func plainJSONString(v []byte) bool {
	if len(v) > 256 {
		return false
	}
	for _, c := range v {
		if !jsonSafe[c] {
			return false
		}
	}
	return true
}
