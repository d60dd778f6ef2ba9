// Package jwk generates, parses and encodes JSON Web Keys (RFC 7517, 7518,
// 7638) for JWT signing: ES256 (P-256), RS256 (RSA 2048+), HS256 (shared
// secret) and EdDSA (Ed25519).
//
// Encoding is strict where others are lax: fixed-width P-256 and Ed25519
// members, canonical unpadded base64url, and the member order the Supabase
// CLI prints, so keys drop into Supabase's signing_keys.json unchanged.
package jwk

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Algorithm is a JWS signature algorithm keyctl supports (RFC 7518, RFC 8037).
type Algorithm string

// The supported algorithms. ES256 is the recommended default.
const (
	ES256 Algorithm = "ES256"
	RS256 Algorithm = "RS256"
	HS256 Algorithm = "HS256"
	EdDSA Algorithm = "EdDSA"
)

// Algorithms lists the supported algorithms, the recommended one first.
var Algorithms = []Algorithm{ES256, RS256, HS256, EdDSA}

// Key type (kty) names.
const (
	KtyEC  = "EC"
	KtyRSA = "RSA"
	KtyOct = "oct"
	KtyOKP = "OKP"
)

// Key operations.
const (
	OpSign   = "sign"
	OpVerify = "verify"
)

// Errors callers may test for with errors.Is.
var (
	ErrUnsupportedAlgorithm = errors.New("unsupported algorithm")
	ErrUnsupportedKeyType   = errors.New("unsupported key type")
	ErrSymmetric            = errors.New("a shared secret has no public form")
	ErrWeakKey              = errors.New("key too weak")
	ErrNotPrivate           = errors.New("not a private key")
)

// ParseAlgorithm accepts an algorithm name in any letter case.
func ParseAlgorithm(s string) (Algorithm, error) {
	for _, a := range Algorithms {
		if strings.EqualFold(s, string(a)) {
			return a, nil
		}
	}
	return "", fmt.Errorf("%w %s (want one of %s)", ErrUnsupportedAlgorithm, quoteClip(s), AlgorithmList())
}

// AlgorithmList returns "ES256, RS256, HS256, EdDSA" for messages.
func AlgorithmList() string {
	names := make([]string, len(Algorithms))
	for i, a := range Algorithms {
		names[i] = string(a)
	}
	return strings.Join(names, ", ")
}

// Kty returns the key type an algorithm needs.
func (a Algorithm) Kty() string {
	switch a {
	case ES256:
		return KtyEC
	case RS256:
		return KtyRSA
	case HS256:
		return KtyOct
	case EdDSA:
		return KtyOKP
	}
	return ""
}

// Symmetric reports whether the algorithm uses a shared secret.
func (a Algorithm) Symmetric() bool { return a == HS256 }

// Key is one JWK. Material holds the Go crypto key: *ecdsa.PrivateKey,
// *ecdsa.PublicKey, *rsa.PrivateKey, *rsa.PublicKey, ed25519.PrivateKey,
// ed25519.PublicKey, or []byte for an oct shared secret.
type Key struct {
	KID      string
	Alg      Algorithm
	Use      string   // "sig" or empty
	KeyOps   []string // nil when absent
	Ext      bool     // WebCrypto "extractable"; Supabase sets it on every key
	Material any

	padded []string // EC members read without their left zero bytes
}

// PaddedMembers names the EC members (x, y, d) that Parse read shorter
// than the curve's size and left-padded with zero bytes: what older
// Supabase CLIs write for about one key in a hundred (RFC 7518 section
// 6.2.1 wants the full size, and Supabase Auth refuses such a key). The key
// is the same; keyctl writes it back full-size.
func (k *Key) PaddedMembers() []string { return k.padded }

// Kty returns the key's JWK key type.
func (k *Key) Kty() string {
	switch k.Material.(type) {
	case *ecdsa.PrivateKey, *ecdsa.PublicKey:
		return KtyEC
	case *rsa.PrivateKey, *rsa.PublicKey:
		return KtyRSA
	case ed25519.PrivateKey, ed25519.PublicKey:
		return KtyOKP
	case []byte:
		return KtyOct
	}
	return ""
}

// IsPrivate reports whether the key holds private material (a shared secret
// counts: it signs).
func (k *Key) IsPrivate() bool {
	switch k.Material.(type) {
	case *ecdsa.PrivateKey, *rsa.PrivateKey, ed25519.PrivateKey, []byte:
		return true
	}
	return false
}

// IsSymmetric reports whether the key is a shared secret.
func (k *Key) IsSymmetric() bool {
	_, ok := k.Material.([]byte)
	return ok
}

// HasOp reports whether key_ops allows op; a key without key_ops allows all.
func (k *Key) HasOp(op string) bool {
	return k.KeyOps == nil || slices.Contains(k.KeyOps, op)
}

// Bits returns the RSA modulus size, the curve size or the secret size in bits.
func (k *Key) Bits() int {
	switch m := k.Material.(type) {
	case *rsa.PrivateKey:
		return m.N.BitLen()
	case *rsa.PublicKey:
		return m.N.BitLen()
	case *ecdsa.PrivateKey, *ecdsa.PublicKey:
		return 256
	case ed25519.PrivateKey, ed25519.PublicKey:
		return 256
	case []byte:
		return len(m) * 8
	}
	return 0
}

// Public returns the public half of the key with the same kid and alg,
// use "sig" and key_ops ["verify"], as a JWKS publishes it. A shared
// secret has no public half: ErrSymmetric.
func (k *Key) Public() (*Key, error) {
	var pub any
	switch m := k.Material.(type) {
	case *ecdsa.PrivateKey:
		pub = &m.PublicKey
	case *rsa.PrivateKey:
		pub = &m.PublicKey
	case ed25519.PrivateKey:
		pub = m.Public().(ed25519.PublicKey)
	case *ecdsa.PublicKey, *rsa.PublicKey, ed25519.PublicKey:
		pub = m
	case []byte:
		return nil, ErrSymmetric
	default:
		return nil, ErrUnsupportedKeyType
	}
	return &Key{KID: k.KID, Alg: k.Alg, Use: "sig", KeyOps: []string{OpVerify}, Material: pub}, nil
}

// PublicMaterial returns the crypto public key (or the secret for oct keys).
func (k *Key) PublicMaterial() any {
	switch m := k.Material.(type) {
	case *ecdsa.PrivateKey:
		return &m.PublicKey
	case *rsa.PrivateKey:
		return &m.PublicKey
	case ed25519.PrivateKey:
		return m.Public()
	}
	return k.Material
}

// WithOps returns a shallow copy of k with key_ops set to ops.
func (k *Key) WithOps(ops ...string) *Key {
	c := *k
	c.KeyOps = slices.Clone(ops)
	return &c
}

// Equal reports whether two keys hold the same material (kid and metadata
// aside).
func (k *Key) Equal(o *Key) bool {
	if k == nil || o == nil {
		return k == o
	}
	switch m := k.Material.(type) {
	case []byte:
		om, ok := o.Material.([]byte)
		return ok && string(m) == string(om)
	case *ecdsa.PrivateKey:
		return m.Equal(o.Material)
	case *ecdsa.PublicKey:
		return m.Equal(o.Material)
	case *rsa.PrivateKey:
		return m.Equal(o.Material)
	case *rsa.PublicKey:
		return m.Equal(o.Material)
	case ed25519.PrivateKey:
		return m.Equal(o.Material)
	case ed25519.PublicKey:
		return m.Equal(o.Material)
	}
	return false
}

// MaxKIDBytes bounds a key ID.
const MaxKIDBytes = 256

// ErrBadKID reports a key ID keyctl will not hold: kids are printed in
// tables, messages, headers and hints to paste, so one must never carry
// terminal controls or white space.
var ErrBadKID = errors.New("invalid kid")

// CheckKID refuses a kid keyctl would not give a key: longer than
// MaxKIDBytes, or holding anything but printable ASCII without spaces
// (0x21 to 0x7E). A UUID is recommended. An empty kid is allowed (no kid).
// Every kid that enters a keyring or a key keyctl makes passes it.
func CheckKID(kid string) error {
	if err := CheckKIDSafe(kid); err != nil {
		return err
	}
	for _, c := range kid { // runes: a non-ASCII kid names its character, not a byte of it
		switch {
		case c == ' ':
			return fmt.Errorf("%w %s: contains a space (kids are printable ASCII without spaces; a UUID is recommended)", ErrBadKID, quoteClip(kid))
		case c < 0x21 || c > 0x7e:
			return fmt.Errorf("%w %s: contains %q (kids are printable ASCII without spaces; a UUID is recommended)", ErrBadKID, quoteClip(kid), c)
		}
	}
	return nil
}

// CheckKIDSafe is the weaker rule for kids read from documents keyctl did
// not write (a third-party JWKS, a keyring from an older keyctl): valid
// UTF-8, at most MaxKIDBytes, and no control characters (C0, DEL, C1) or
// bidirectional-text controls that could rewrite what a terminal shows.
func CheckKIDSafe(kid string) error {
	if len(kid) > MaxKIDBytes {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrBadKID, len(kid), MaxKIDBytes)
	}
	if !utf8.ValidString(kid) {
		return fmt.Errorf("%w: not valid UTF-8", ErrBadKID)
	}
	for _, r := range kid {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return fmt.Errorf("%w: contains the control character %U", ErrBadKID, r)
		}
	}
	return nil
}

// maxQuoted bounds a value from input quoted in a message: a hostile key
// or JWKS must not put a megabyte on every verify's stderr.
const maxQuoted = 64

// quoteClip quotes s for a message (Go syntax, so control characters are
// escaped), cut to maxQuoted bytes of s at a character boundary, with
// "..." after the closing quote when cut.
func quoteClip(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + fmt.Sprintf("... (%d bytes)", len(s))
}
