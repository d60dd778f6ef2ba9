package jwk

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"fmt"
)

// Minimum sizes keyctl accepts when generating keys.
const (
	MinRSABits     = 2048
	MaxRSABits     = 8192
	MinSecretBytes = 32 // RFC 7518 section 3.2: at least the hash size
)

// GenerateOptions tune Generate. The zero value gives the defaults.
type GenerateOptions struct {
	KID         string // default: a random UUID v4
	RSABits     int    // RS256 only; default 2048
	SecretBytes int    // HS256 only; default 32
}

// Generate makes a new private key for alg with a Supabase-style envelope:
// use "sig", key_ops ["sign","verify"], ext true.
func Generate(alg Algorithm, opts GenerateOptions) (*Key, error) {
	if err := CheckKID(opts.KID); err != nil {
		return nil, err
	}
	var material any
	switch alg {
	case ES256:
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		material = priv
	case RS256:
		bits := opts.RSABits
		if bits == 0 {
			bits = MinRSABits
		}
		switch bits {
		case 2048, 3072, 4096:
		default:
			return nil, fmt.Errorf("%w: RSA keys must be 2048, 3072 or 4096 bits, not %d", ErrWeakKey, bits)
		}
		priv, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			return nil, err
		}
		material = priv
	case HS256:
		n := opts.SecretBytes
		if n == 0 {
			n = MinSecretBytes
		}
		if n < MinSecretBytes {
			return nil, fmt.Errorf("%w: HS256 secrets must be at least %d bytes, not %d", ErrWeakKey, MinSecretBytes, n)
		}
		if n > 1024 {
			return nil, fmt.Errorf("HS256 secrets longer than 1024 bytes gain nothing (asked for %d)", n)
		}
		secret := make([]byte, n)
		rand.Read(secret)
		material = secret
	case EdDSA:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		material = priv
	default:
		return nil, fmt.Errorf("%w %q", ErrUnsupportedAlgorithm, alg)
	}
	kid := opts.KID
	if kid == "" {
		kid = NewKID()
	}
	return &Key{
		KID:      kid,
		Alg:      alg,
		Use:      "sig",
		KeyOps:   []string{OpSign, OpVerify},
		Ext:      true,
		Material: material,
	}, nil
}

// NewKID returns a random lowercase UUID v4, the kid Supabase gives keys.
func NewKID() string {
	var b [16]byte
	rand.Read(b[:])
	var out [UUIDLen]byte
	FormatUUID(&out, b[:])
	return string(out[:])
}

// UUIDLen is the length of a UUID in its text form.
const UUIDLen = 36

// FormatUUID writes 16 random bytes as a lowercase UUID v4 (RFC 9562),
// setting the version and variant bits.
func FormatUUID(dst *[UUIDLen]byte, b []byte) {
	var u [16]byte
	copy(u[:], b)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	hex.Encode(dst[0:8], u[0:4])
	dst[8] = '-'
	hex.Encode(dst[9:13], u[4:6])
	dst[13] = '-'
	hex.Encode(dst[14:18], u[6:8])
	dst[18] = '-'
	hex.Encode(dst[19:23], u[8:10])
	dst[23] = '-'
	hex.Encode(dst[24:], u[10:])
}
